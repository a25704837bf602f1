//! Conv (1-D and 2-D, any groups, so depthwise too): `acc = b + sum(x * w)`, requantized to the
//! output exponent, with a fused Relu/Clip clamp.

use super::tile::{pixel_passes, PixelPass, RegisterTile};
use super::window::{Tap, Window};
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::KernelEmit;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer, Shifts};
use crate::lower::bias::{bias_input, int8_values, Bias};
use crate::lower::Pending;
use crate::lower::{Lowering, Weights};
use crate::onnx::Node;
use crate::quant::accumulator::{offset_weights_fit_i32, Accumulator};
use serde::Serialize;
use std::rc::Rc;

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let input = lowering.quant_input(node, 0)?;
    let weights = lowering.weights(node, 1)?;
    let bias = bias_input(lowering, node, 2)?;
    let in_shape = lowering.tensor(input).shape.clone();
    // 1-D convolution runs as 2-D convolution of height 1 over [N, C, 1, L]; the weights
    // [M, C/group, k] have the same element order as [M, C/group, 1, k].
    let (batch, in_channels, in_h, in_w, one_d) = match in_shape[..] {
        [n, c, h, w] => (n, c, h, w, false),
        [n, c, l] => (n, c, 1, l, true),
        _ => {
            return Err(Error::node(
                node,
                format!(
                "input shape {in_shape:?}: only 1-D (NCL) and 2-D (NCHW) convolution are supported"
            ),
            ))
        }
    };
    let (out_channels, group_channels, k_h, k_w) = match (one_d, &weights.dims[..]) {
        (false, &[m, c, kh, kw]) => (m, c, kh, kw),
        (true, &[m, c, k]) => (m, c, 1, k),
        _ => {
            return Err(Error::node(
                node,
                format!(
                    "weight shape {:?} does not match input shape {in_shape:?}: expected [M, C/group, kH, kW] (2-D) or [M, C/group, k] (1-D)",
                    weights.dims
                ),
            ))
        }
    };
    if [out_channels, group_channels, in_channels].contains(&0) {
        return Err(Error::node(
            node,
            format!(
                "input {in_shape:?} or weights {:?} have a zero size",
                weights.dims
            ),
        ));
    }
    let groups = node.attr_int("group", 1)?;
    let groups = usize::try_from(groups)
        .ok()
        .filter(|&g| g >= 1 && in_channels % g == 0 && out_channels % g == 0)
        .ok_or_else(|| {
            Error::node(
                node,
                format!("group {groups} does not divide {in_channels} input and {out_channels} output channels"),
            )
        })?;
    if in_channels / groups != group_channels {
        return Err(Error::node(
            node,
            format!(
                "weights have {group_channels} input channels per group, the input has {in_channels} channels in {groups} groups"
            ),
        ));
    }
    let (window, output_shape) = if one_d {
        let window = Window::from_node_1d(node, in_w, Some(k_w))?;
        let shape = vec![batch, out_channels, window.out_w];
        (window, shape)
    } else {
        let window = Window::from_node(node, in_h, in_w, Some([k_h, k_w]))?;
        let shape = vec![batch, out_channels, window.out_h, window.out_w];
        (window, shape)
    };
    crate::lower::checked_len(lowering, node, &output_shape, 1)?;
    let pending = ConvPending {
        node: node.clone(),
        input,
        weights,
        bias,
        groups,
        window,
        output_shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

#[derive(Debug)]
struct ConvPending {
    node: Node,
    input: TensorId,
    weights: Rc<Weights>,
    bias: Option<Bias>,
    groups: usize,
    window: Window,
    output_shape: Vec<usize>,
}

impl Pending for ConvPending {
    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let node = &self.node;
        let x = lowering.tensor(self.input);
        let in_channels = x.shape[1];
        let out_channels = self.output_shape[1];
        let weights = int8_values(node, &self.weights)?;
        // Weight axis 0 is the output channel.
        let (bias, accumulator, shifts) = lowering.requantization(
            node,
            self.input,
            &self.weights,
            (0, out_channels),
            &weights,
            self.bias.as_ref(),
            output_exponent,
            clamp,
        )?;
        let kernel = Conv {
            input_magnitude: x.dtype.magnitude(),
            batch: self.output_shape[0],
            in_channels,
            out_channels,
            groups: self.groups,
            window: self.window.clone(),
            weights,
            bias,
            shifts,
            accumulator,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
pub struct Conv {
    /// The largest `|x|` of the input type.
    input_magnitude: u64,
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    window: Window,
    /// `[out_channels][in_channels / groups * kH * kW]`, ONNX order within a channel.
    weights: Vec<i8>,
    bias: Vec<i32>,
    shifts: Shifts,
    accumulator: Accumulator,
    clamp: Clamp,
}

impl Conv {
    /// A 1x1, stride-1, unpadded, ungrouped convolution: a matrix product of the weights and
    /// the input planes, which runs as one (`conv_pointwise.rs.tera`).
    fn is_pointwise(&self) -> bool {
        let w = &self.window;
        self.groups == 1
            && w.kernel == [1, 1]
            && w.strides == [1, 1]
            && w.pads == [0; 4]
            && (w.out_h, w.out_w) == (w.in_h, w.in_w)
    }
}

/// How a pointwise convolution with offset weights goes over its pixels: in `chunks` chunks of
/// `chunk` pixels, each first summing its pixels over the input channels (into a stack array of
/// `chunk` i32), then `tiled` of them in register tiles and the rest one at a time
/// (`pixel_passes`, as [`RegisterTile::set`] writes them for a whole plane).
#[derive(Debug, Serialize)]
struct OffsetChunks {
    chunk: usize,
    chunks: usize,
    tiled: usize,
    pixel_passes: Vec<PixelPass>,
}

impl Conv {
    /// The chunks of a pointwise convolution with offset weights ([`KernelEmit::offset_weight_blocks`]),
    /// or `None` where they do not pay or do not fit:
    /// - the sums cost about 6 instructions per input element and chunk, shared by the output
    ///   channels, against one `sext` saved per weight load: with fewer than
    ///   [`Conv::OFFSET_MIN_OUT_CHANNELS`] output channels the sums cost more than they save;
    /// - every partial sum must fit i32 (`offset_weights_fit_i32`);
    /// - the plane must split into equal chunks of at most [`Conv::OFFSET_MAX_CHUNK`] pixels
    ///   (the stack array), each a whole number of pixel tiles, or be one such chunk.
    fn offset_chunks(&self, plane: usize, pixels: usize) -> Option<OffsetChunks> {
        let fits = offset_weights_fit_i32(
            self.accumulator,
            &self.bias,
            self.in_channels,
            self.input_magnitude,
        );
        if !fits || self.out_channels < Self::OFFSET_MIN_OUT_CHANNELS || plane == 0 {
            return None;
        }
        let chunk = if plane <= Self::OFFSET_MAX_CHUNK {
            plane
        } else {
            (pixels.max(1)..=Self::OFFSET_MAX_CHUNK)
                .rev()
                .find(|&c| plane.is_multiple_of(c) && c % pixels.max(1) == 0)?
        };
        let (tiled, pixel_passes) = pixel_passes(chunk, pixels);
        Some(OffsetChunks {
            chunk,
            chunks: plane / chunk,
            tiled,
            pixel_passes,
        })
    }

    /// See [`Conv::offset_chunks`].
    const OFFSET_MIN_OUT_CHANNELS: usize = 24;
    /// 384 bytes of stack for the sums.
    const OFFSET_MAX_CHUNK: usize = 96;

    /// The row-at-a-time plan of `conv.rs.tera`: the kernel rows' offsets, and the output
    /// columns of a row in segments (see [`ColumnSegment`]).
    fn set_row_plan(&self, out: &mut KernelEmit) {
        let w = &self.window;
        let interior = w.interior_columns();
        // Neighbouring output columns read overlapping input columns: computing a few per
        // step lets one load serve several taps. Four fit the registers of a 32-bit MCU when
        // each column requantizes at once; when columns accumulate over several input
        // channels, their running sums load and store too, and more than two spill. A loop
        // of a single step measured slower than two steps of fewer columns.
        let widest = if self.in_channels / self.groups == 1 {
            4
        } else {
            2
        };
        let lanes = [4, 2, 1]
            .into_iter()
            .find(|&lanes| lanes <= widest && interior.len() >= 2 * lanes)
            .unwrap_or(1);
        let steps = interior.len() / lanes;
        let unchecked_end = interior.start + steps * lanes;
        // The border columns are written out one by one with only the taps inside the row,
        // unless there are so many (a kernel wider than the row) that a loop testing every
        // tap is the smaller code.
        let border = interior.start + (w.out_w - unchecked_end);
        let written_out = border <= MAX_WRITTEN_OUT_COLUMNS;
        let border_segment = |start: usize, end: usize| ColumnSegment {
            start,
            end,
            steps: 0,
            columns: if written_out {
                (start..end).map(|ox| self.border_column(ox)).collect()
            } else {
                Vec::new()
            },
        };
        let interior_step = ColumnSegment {
            start: interior.start,
            end: unchecked_end,
            steps,
            columns: (0..lanes).map(|lane| self.interior_column(lane)).collect(),
        };
        let segments: Vec<ColumnSegment> = [
            border_segment(0, interior.start),
            interior_step,
            border_segment(unchecked_end, w.out_w),
        ]
        .into_iter()
        .filter(|segment| segment.start < segment.end)
        .collect();
        out.set("segments", segments);
        let rows: Vec<usize> = (0..w.kernel[0]).map(|ky| ky * w.dilations[0]).collect();
        out.set("kernel_rows", rows);
    }

    /// Border output column `ox`: its taps that read inside the input row.
    fn border_column(&self, ox: usize) -> ColumnSum {
        let w = &self.window;
        let terms = w
            .taps()
            .into_iter()
            .filter_map(|tap| {
                let column = (ox * w.strides[1] + tap.dx).checked_sub(w.pads[1])?;
                (column < w.in_w).then(|| Term::new(&tap, column.to_string()))
            })
            .collect();
        ColumnSum {
            at: ox.to_string(),
            terms,
        }
    }

    /// Output column `ox + lane` of an interior step whose first column reads input column
    /// `ix`: every tap.
    fn interior_column(&self, lane: usize) -> ColumnSum {
        let offset = lane * self.window.strides[1];
        let terms = self
            .window
            .taps()
            .iter()
            .map(|tap| Term::new(tap, format!("ix + {}", offset + tap.dx)))
            .collect();
        ColumnSum {
            at: format!("ox + {lane}"),
            terms,
        }
    }
}

impl Conv {
    /// The plan of a convolution on a small output map ([`SMALL_MAP_PIXELS`] / 2 to
    /// [`SMALL_MAP_PIXELS`] pixels), ungrouped, over many input channels (16, or 32 on
    /// Xtensa's profile): every output pixel is written out with the
    /// taps that read inside the input only, so the border costs no test and no zero MAC,
    /// and a register tile of output channels by pixels accumulates while the input channels
    /// stream past (each weight and input loaded once per tile, as in the pointwise kernel).
    /// `None` for other convolutions, which run row by row.
    fn small_map_plan(&self, budget: usize) -> Option<SmallMapPlan> {
        let w = &self.window;
        let plane = w.out_h * w.out_w;
        // Each tap is a loop over the input channels, with a few instructions of its own:
        // over few channels, or few pixels, the row kernel is faster. On Xtensa (the small
        // tiles of an unroll budget below 12), LLVM unrolls the loops over 16 channels and
        // spills (docs/xtensa.md).
        let fewest_channels = if budget >= 12 { 16 } else { 32 };
        if self.groups != 1
            || self.in_channels < fewest_channels
            || !(SMALL_MAP_PIXELS / 2..=SMALL_MAP_PIXELS).contains(&plane)
        {
            return None;
        }
        // The tile: as many pixels as fit the budget up to 3 (neighbours share input loads),
        // then the most output channels that divide the layer's and fit the rest.
        let pixels = budget.clamp(1, 3).min(plane);
        let channels = (1..=(budget / pixels).max(1))
            .rev()
            .find(|c| self.out_channels.is_multiple_of(*c))
            .unwrap_or(1);
        Some(SmallMapPlan {
            channels,
            groups: pixel_groups(w, pixels),
        })
    }
}

/// The output pixels of `w` in groups of `pixels` (row-major order), each with its taps:
/// every (pixel, tap) that reads inside the input, and no other.
fn pixel_groups(w: &Window, pixels: usize) -> Vec<SmallMapGroup> {
    let taps = w.taps();
    // The input that output pixel `at` reads through `tap`, if inside the input.
    let read = |at: usize, tap: &Tap| {
        let (oy, ox) = (at / w.out_w, at % w.out_w);
        let iy = (oy * w.strides[0] + tap.dy).checked_sub(w.pads[0])?;
        let ix = (ox * w.strides[1] + tap.dx).checked_sub(w.pads[1])?;
        (iy < w.in_h && ix < w.in_w).then_some(iy * w.in_w + ix)
    };
    (0..w.out_h * w.out_w)
        .collect::<Vec<_>>()
        .chunks(pixels.max(1))
        .map(|group| SmallMapGroup {
            pixels: group.to_vec(),
            // Tap by tap, so that only one tap's weights are live at a time.
            taps: taps
                .iter()
                .map(|tap| SmallMapTap {
                    tap: tap.index,
                    reads: group
                        .iter()
                        .enumerate()
                        .filter_map(|(slot, &at)| {
                            read(at, tap).map(|input| SmallMapRead { slot, input })
                        })
                        .collect(),
                })
                .filter(|tap| !tap.reads.is_empty())
                .collect(),
        })
        .collect()
}

/// Largest output map (pixels) whose every pixel [`Conv::small_map_plan`] writes out.
const SMALL_MAP_PIXELS: usize = 16;

/// A small map's convolution: blocks of `channels` output channels, each computing the
/// pixel groups in turn (see [`Conv::small_map_plan`]).
#[derive(Serialize)]
struct SmallMapPlan {
    channels: usize,
    groups: Vec<SmallMapGroup>,
}

/// Output pixels computed together (their indices in the output plane), and the kernel taps
/// that any of them reads inside the input.
#[derive(Serialize)]
struct SmallMapGroup {
    pixels: Vec<usize>,
    taps: Vec<SmallMapTap>,
}

/// Kernel tap `tap` of a pixel group: the pixels (their slots in the group) that read inside
/// the input through it, and the index of that input in the input plane.
#[derive(Serialize)]
struct SmallMapTap {
    tap: usize,
    reads: Vec<SmallMapRead>,
}

#[derive(Serialize)]
struct SmallMapRead {
    slot: usize,
    input: usize,
}

/// Most border columns of a conv2d row written out one by one.
const MAX_WRITTEN_OUT_COLUMNS: usize = 16;

/// Output columns `start..end` of a conv2d row: a loop of `steps` steps computing `columns`
/// each (the interior, whose taps all read inside the row), or, with no steps, `columns`
/// written out once (border columns, their taps inside the row only), or, with neither, a
/// loop testing every tap against the row.
#[derive(Serialize)]
struct ColumnSegment {
    start: usize,
    end: usize,
    steps: usize,
    columns: Vec<ColumnSum>,
}

/// The sum of an output column at index expression `at`: the terms `r{row}[column] * w{tap}`.
#[derive(Serialize)]
struct ColumnSum {
    at: String,
    terms: Vec<Term>,
}

/// One product of a column sum: kernel tap `tap`, on kernel row `row`, times the input at
/// index expression `column` of that row.
#[derive(Serialize)]
struct Term {
    row: usize,
    tap: usize,
    column: String,
}

impl Term {
    fn new(tap: &Tap, column: String) -> Term {
        Term {
            row: tap.row,
            tap: tap.index,
            column,
        }
    }
}

impl Kernel for Conv {
    fn supports_int16(&self) -> bool {
        true
    }

    fn renderer(&self) -> Renderer {
        if self.is_pointwise() {
            Renderer::Builtin(BuiltinTemplate::ConvPointwise)
        } else {
            Renderer::Builtin(BuiltinTemplate::Conv)
        }
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let per_channel = self.weights.len() / self.out_channels;
        let mut offset_block = None;
        if self.is_pointwise() {
            let plane = self.window.in_h * self.window.in_w;
            let tile = RegisterTile::new(out.unroll(), self.out_channels, plane, self.in_channels);
            tile.set(out);
            let chunks = out
                .offset_weights()
                .then(|| self.offset_chunks(plane, tile.pixels()))
                .flatten();
            out.set("offset_weights", chunks.is_some());
            if let Some(chunks) = chunks {
                out.set("offset", chunks);
                offset_block = Some(tile.channels());
            }
        } else if let Some(plan) = self.small_map_plan(out.unroll()) {
            out.set("small_map", plan);
        } else {
            self.set_row_plan(out);
        }
        let per_group_in = self.in_channels / self.groups;
        out.set("batch", self.batch);
        out.set("in_channels", self.in_channels);
        out.set("out_channels", self.out_channels);
        out.set("in_per_group", per_group_in);
        out.set("out_per_group", self.out_channels / self.groups);
        out.set("weights_per_channel", per_channel);
        self.window.set(out);
        self.accumulator.set(out, self.clamp, self.shifts.values());
        match offset_block {
            Some(block) => out.offset_weight_blocks(&self.weights, per_channel, block, &self.bias),
            None => out.weights_and_bias(&self.weights, per_channel, &self.bias),
        }
        self.shifts.set(out);
        out.describe(format!(
            "{} groups, {}, {}",
            self.groups,
            self.window.describe(),
            self.shifts.describe()
        ));
        Ok(())
    }

    fn macs(&self) -> u64 {
        (self.batch * self.out_channels * self.window.out_h * self.window.out_w) as u64
            * (self.weights.len() / self.out_channels) as u64
    }

    fn shift(&self) -> Option<i32> {
        self.shifts.uniform()
    }

    fn channel_shifts(&self) -> Option<&Shifts> {
        self.shifts.per_channel()
    }

    fn accumulator(&self) -> Option<Accumulator> {
        Some(self.accumulator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output pixel is in one group, and its reads are exactly the taps whose input
    /// lies inside the map, each at that input's index (checked against the padded input).
    #[test]
    fn small_map_pixels_read_exactly_their_taps_inside_the_input() {
        for (size, stride, pad, dilation) in
            [(4, 1, 1, 1), (8, 2, 1, 1), (2, 1, 1, 1), (5, 2, 2, 2)]
        {
            let extent = dilation * 2 + 1;
            let out = (size + 2 * pad - extent) / stride + 1;
            let w = Window {
                in_h: size,
                in_w: size + 1,
                kernel: [3, 3],
                strides: [stride; 2],
                dilations: [dilation; 2],
                pads: [pad; 4],
                out_h: out,
                out_w: (size + 1 + 2 * pad - extent) / stride + 1,
            };
            for pixels in 1..=3 {
                let mut seen = vec![0; w.out_h * w.out_w];
                for group in pixel_groups(&w, pixels) {
                    assert!(group.pixels.len() <= pixels);
                    for &at in &group.pixels {
                        seen[at] += 1;
                    }
                    for (slot, &at) in group.pixels.iter().enumerate() {
                        let (oy, ox) = (at / w.out_w, at % w.out_w);
                        for tap in w.taps() {
                            // In padded coordinates, then back to the input.
                            let (py, px) = (oy * stride + tap.dy, ox * stride + tap.dx);
                            let inside =
                                py >= pad && px >= pad && py - pad < w.in_h && px - pad < w.in_w;
                            let reads: Vec<usize> = group
                                .taps
                                .iter()
                                .filter(|t| t.tap == tap.index)
                                .flat_map(|t| t.reads.iter().filter(|r| r.slot == slot))
                                .map(|r| r.input)
                                .collect();
                            let expected: Vec<usize> = if inside {
                                vec![(py - pad) * w.in_w + px - pad]
                            } else {
                                vec![]
                            };
                            assert_eq!(reads, expected, "{w:?} pixel {at} tap {}", tap.index);
                        }
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "{w:?}: {seen:?}");
            }
        }
    }
}
