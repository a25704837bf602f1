//! Register tiles of the accumulating kernels (`conv_pointwise.rs.tera`, `dense.rs.tera`),
//! sized by the unroll budget (`--unroll`).

use crate::kernel::KernelEmit;

/// A register tile: `channels` output channels by `pixels` output pixels, whose
/// `channels * pixels` accumulators (at most the unroll budget) stay in registers while the
/// inputs stream past, so each weight and input is loaded once per tile, not once per MAC.
pub struct RegisterTile {
    channels: usize,
    pixels: usize,
    out_channels: usize,
    plane: usize,
}

impl RegisterTile {
    /// The squarest tile within `budget` MACs, with more channels than pixels: a tile loads
    /// `channels + pixels` values for `channels * pixels` MACs, so square tiles load the
    /// least; channel counts are mostly multiples of 4, so 12 gives 4 x 3.
    ///
    /// With 8 input channels or fewer, LLVM unrolls the loop over them completely and keeps
    /// every weight of the block in a register across the pixel tiles, which spills unless
    /// the block is small: such layers get at most 3 channels by 1 pixel (MobileNetV2's
    /// 8-to-48-channel layer: 5.1 instructions per MAC on riscv32imc, 6.5 with 4 x 3).
    pub fn new(
        budget: usize,
        out_channels: usize,
        plane: usize,
        in_channels: usize,
    ) -> RegisterTile {
        const FEW_INPUT_CHANNELS: usize = 8;
        let budget = if in_channels <= FEW_INPUT_CHANNELS {
            budget.clamp(1, 3)
        } else {
            budget.max(1)
        };
        let pixels = (1..=budget)
            .take_while(|p| p * p <= budget)
            .last()
            .unwrap_or(1);
        let pixels = pixels.min(plane.max(1));
        let channels = (budget / pixels).clamp(1, out_channels.max(1));
        RegisterTile {
            channels,
            pixels,
            out_channels,
            plane,
        }
    }

    /// A fully connected layer's tile: up to 4 output units share each input load (one
    /// "pixel": a row of the batch). More units than 4 spill on riscv32, whose inner loop
    /// also holds a weight per unit.
    pub fn dense(budget: usize, out_features: usize) -> RegisterTile {
        RegisterTile {
            channels: budget.clamp(1, 4).min(out_features.max(1)),
            pixels: 1,
            out_channels: out_features,
            plane: 1,
        }
    }

    /// The output channels (or units) of a block.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The output pixels of a tile.
    pub fn pixels(&self) -> usize {
        self.pixels
    }

    /// `channel_block`, `pixel_tile` and `tiled` (pixels covered by whole tiles), and the
    /// passes the template writes out: whole blocks of channels then the leftover channels
    /// one at a time (`channel_passes`), whole pixel tiles then the leftover pixels one at a
    /// time (`pixel_passes`).
    pub fn set(&self, out: &mut KernelEmit) {
        #[derive(serde::Serialize)]
        struct ChannelPass {
            channels: usize,
            rest: usize,
        }
        let blocks = self.out_channels / self.channels;
        let rest = self.out_channels % self.channels;
        let mut channel_passes = Vec::new();
        if blocks > 0 {
            channel_passes.push(ChannelPass {
                channels: self.channels,
                rest: 0,
            });
        }
        if rest > 0 {
            channel_passes.push(ChannelPass { channels: 1, rest });
        }
        let (tiled, pixel_passes) = pixel_passes(self.plane, self.pixels);
        out.set("channel_block", self.channels);
        out.set("pixel_tile", self.pixels);
        out.set("tiled", tiled);
        out.set("channel_passes", channel_passes);
        out.set("pixel_passes", pixel_passes);
    }
}

/// A loop over pixels a template writes out: whole tiles of `pixels`, or the leftover pixels
/// one at a time (`rest`).
#[derive(Debug, serde::Serialize)]
pub struct PixelPass {
    pixels: usize,
    /// The leftover pixels, `tiled..plane`.
    rest: bool,
}

/// The pixels of `plane` covered by whole tiles of `pixels` (`tiled`), and the passes over
/// them: the tiles, then the leftover pixels one at a time.
pub fn pixel_passes(plane: usize, pixels: usize) -> (usize, Vec<PixelPass>) {
    let pixels = pixels.max(1);
    let tiled = plane / pixels * pixels;
    let mut passes = Vec::new();
    if tiled > 0 {
        passes.push(PixelPass {
            pixels,
            rest: false,
        });
    }
    if tiled < plane {
        passes.push(PixelPass {
            pixels: 1,
            rest: true,
        });
    }
    (tiled, passes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(budget: usize, out_channels: usize, plane: usize) -> (usize, usize) {
        let tile = RegisterTile::new(budget, out_channels, plane, 16);
        (tile.channels, tile.pixels)
    }

    #[test]
    fn register_tile_stays_within_the_unroll_budget() {
        assert_eq!(shape(12, 96, 576), (4, 3));
        assert_eq!(shape(16, 96, 576), (4, 4));
        assert_eq!(shape(7, 96, 576), (3, 2));
        assert_eq!(shape(1, 96, 576), (1, 1));
        assert_eq!(shape(0, 96, 576), (1, 1));
        // Never more channels or pixels than the layer has.
        assert_eq!(shape(12, 2, 576), (2, 3));
        assert_eq!(shape(12, 96, 1), (12, 1));
        // Few input channels: a block of at most 3 channels by 1 pixel.
        assert_eq!(RegisterTile::new(12, 48, 2304, 8).channels, 3);
        assert_eq!(RegisterTile::new(12, 48, 2304, 8).pixels, 1);
        assert_eq!(RegisterTile::new(12, 48, 2304, 9).channels, 4);
    }
}
