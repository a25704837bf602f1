//! The 2-D sliding window shared by Conv and the pools: attributes, output size and the
//! unrolled list of kernel taps that the templates iterate over.

use crate::error::{Error, Result};
use crate::kernel::KernelEmit;
use crate::onnx::{Attribute, Node};
use serde::Serialize;
use std::ops::Range;

/// Bound on kernel sizes, strides, dilations and pads. Far beyond any MCU model, it keeps
/// every window computation far from overflow whatever the attributes say.
const MAX_WINDOW: i64 = 1 << 16;

/// Bound on the taps of one window (kernel height × width): the kernels write every tap out,
/// so this bounds the code of one layer (a 64 × 64 window, or 4096 taps in 1-D).
pub const MAX_TAPS: usize = 1 << 12;

/// Geometry of a sliding window over an NCHW tensor (batch 1 per call); a 1-D window over
/// NCL is one of height 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub in_h: usize,
    pub in_w: usize,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top, left, bottom, right
    pub pads: [usize; 4],
    pub out_h: usize,
    pub out_w: usize,
}

/// One kernel tap: its index in the kernel, its kernel row and its offset from the window
/// origin.
#[derive(Debug, Clone, Serialize)]
pub struct Tap {
    pub index: usize,
    pub row: usize,
    pub dy: usize,
    pub dx: usize,
}

impl Tap {
    /// The taps of a `kernel` (rows, columns) with `dilations`, in ONNX weight order.
    pub fn grid(kernel: [usize; 2], dilations: [usize; 2]) -> Vec<Tap> {
        let mut taps = Vec::with_capacity(kernel[0] * kernel[1]);
        for ky in 0..kernel[0] {
            for kx in 0..kernel[1] {
                taps.push(Tap {
                    index: taps.len(),
                    row: ky,
                    dy: ky * dilations[0],
                    dx: kx * dilations[1],
                });
            }
        }
        taps
    }
}

impl Window {
    /// Reads kernel_shape/strides/dilations/pads/auto_pad/ceil_mode for an input of spatial
    /// size `in_h × in_w`. `kernel` overrides `kernel_shape` (Conv takes it from the weights).
    pub fn from_node(
        node: &Node,
        in_h: usize,
        in_w: usize,
        kernel: Option<[usize; 2]>,
    ) -> Result<Window> {
        let pair = |name: &str, default: usize| -> Result<[usize; 2]> {
            match node.attr_ints(name)? {
                None => Ok([default, default]),
                Some(v) if v.len() == 2 && v.iter().all(|&x| (1..=MAX_WINDOW).contains(&x)) => {
                    Ok([v[0] as usize, v[1] as usize])
                }
                Some(v) => Err(Error::node(
                    node,
                    format!(
                        "attribute '{name}' = {v:?}: expected two values in 1..={MAX_WINDOW} (2-D)"
                    ),
                )),
            }
        };
        let kernel = match (node.attr_ints("kernel_shape")?, kernel) {
            (Some(k), Some(from_weights)) if k.iter().map(|&x| x as usize).ne(from_weights) => {
                return Err(Error::node(
                    node,
                    format!("kernel_shape {k:?} disagrees with the weights' {from_weights:?}"),
                ))
            }
            (_, Some(k)) => k,
            (Some(_), None) => pair("kernel_shape", 1)?,
            (None, None) => return Err(Error::node(node, "kernel_shape is required")),
        };
        if kernel.iter().any(|&k| k == 0 || k as i64 > MAX_WINDOW) {
            return Err(Error::node(
                node,
                format!("kernel size {kernel:?} must be in 1..={MAX_WINDOW}"),
            ));
        }
        if kernel[0] * kernel[1] > MAX_TAPS {
            return Err(Error::node(
                node,
                format!(
                    "kernel size {kernel:?} has {} taps, more than onnx2esp accepts ({MAX_TAPS})",
                    kernel[0] * kernel[1]
                ),
            ));
        }
        let strides = pair("strides", 1)?;
        let dilations = pair("dilations", 1)?;
        let ceil_mode = node.attr_int("ceil_mode", 0)? != 0;
        let extent = |axis: usize| dilations[axis] * (kernel[axis] - 1) + 1;
        let input = [in_h, in_w];
        let auto_pad = node.attr_string("auto_pad", "NOTSET")?;
        let pads = match auto_pad.as_str() {
            "NOTSET" => match node.attr_ints("pads")? {
                None => [0; 4],
                Some(p) if p.len() == 4 && p.iter().all(|&x| (0..=MAX_WINDOW).contains(&x)) => {
                    // ONNX order: [top, left, bottom, right]
                    [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
                }
                Some(p) => {
                    return Err(Error::node(
                        node,
                        format!("pads {p:?}: expected four values in 0..={MAX_WINDOW}"),
                    ))
                }
            },
            "VALID" => [0; 4],
            "SAME_UPPER" | "SAME_LOWER" => {
                let mut pads = [0; 4];
                for axis in 0..2 {
                    let out = input[axis].div_ceil(strides[axis]);
                    let total =
                        ((out - 1) * strides[axis] + extent(axis)).saturating_sub(input[axis]);
                    let small = total / 2;
                    let (begin, end) = if auto_pad == "SAME_UPPER" {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                    pads[axis] = begin;
                    pads[axis + 2] = end;
                }
                pads
            }
            other => {
                return Err(Error::node(
                    node,
                    format!("auto_pad '{other}' is not valid"),
                ))
            }
        };
        let mut out = [0; 2];
        for axis in 0..2 {
            let span = input[axis] + pads[axis] + pads[axis + 2];
            if span < extent(axis) {
                return Err(Error::node(
                    node,
                    format!(
                        "the window ({} with dilation {}) is larger than the padded input ({span})",
                        kernel[axis], dilations[axis]
                    ),
                ));
            }
            let steps = span - extent(axis);
            out[axis] = if ceil_mode {
                let o = steps.div_ceil(strides[axis]) + 1;
                // ONNX: the last window must start inside the input or the left padding.
                if (o - 1) * strides[axis] >= input[axis] + pads[axis] {
                    o - 1
                } else {
                    o
                }
            } else {
                steps / strides[axis] + 1
            };
        }
        Ok(Window {
            in_h,
            in_w,
            kernel,
            strides,
            dilations,
            pads,
            out_h: out[0],
            out_w: out[1],
        })
    }

    /// The window of a 1-D op over `[N, C, L]`: a 2-D window of height 1 over `[N, C, 1, L]`,
    /// so that the 2-D kernels serve both. `kernel` is the weights' kernel length.
    pub fn from_node_1d(node: &Node, in_w: usize, kernel: Option<usize>) -> Result<Window> {
        let mut lifted = node.clone();
        for (name, height) in [("kernel_shape", 1), ("strides", 1), ("dilations", 1)] {
            match node.attr_ints(name)? {
                Some(v) if v.len() == 1 => {
                    lifted
                        .attributes
                        .insert(name.into(), Attribute::Ints(vec![height, v[0]]));
                }
                Some(v) => {
                    return Err(Error::node(
                        node,
                        format!("attribute '{name}' = {v:?}: expected one value (1-D)"),
                    ))
                }
                None => {}
            }
        }
        match node.attr_ints("pads")? {
            // ONNX order [begin, end] becomes [top, left, bottom, right].
            Some(p) if p.len() == 2 => {
                lifted
                    .attributes
                    .insert("pads".into(), Attribute::Ints(vec![0, p[0], 0, p[1]]));
            }
            Some(p) => {
                return Err(Error::node(
                    node,
                    format!("pads {p:?}: expected two values (1-D)"),
                ))
            }
            None => {}
        }
        Window::from_node(&lifted, 1, in_w, kernel.map(|k| [1, k]))
    }

    /// Whether some tap of some output position falls outside the input.
    pub fn needs_bounds_checks(&self) -> bool {
        let last = |axis: usize, out: usize, input: usize| {
            (out - 1) * self.strides[axis] + self.dilations[axis] * (self.kernel[axis] - 1)
                >= input + self.pads[axis]
        };
        self.pads.iter().any(|&p| p > 0)
            || last(0, self.out_h, self.in_h)
            || last(1, self.out_w, self.in_w)
    }

    pub fn taps(&self) -> Vec<Tap> {
        Tap::grid(self.kernel, self.dilations)
    }

    /// The output columns whose every tap reads inside the input row (none reads the
    /// horizontal padding). When there are none, an empty range that splits the columns
    /// into a left part `..start` and a right part `end..`.
    pub fn interior_columns(&self) -> Range<usize> {
        let [stride, dilation, kernel] = [self.strides[1], self.dilations[1], self.kernel[1]];
        let pad = self.pads[1];
        // Column `ox` reads input columns `ox * stride - pad ..= ox * stride - pad + extent - 1`.
        let extent = dilation * (kernel - 1) + 1;
        let start = pad.div_ceil(stride).min(self.out_w);
        let end = (self.in_w + pad)
            .checked_sub(extent)
            .map_or(0, |last| last / stride + 1)
            .min(self.out_w);
        start..end.max(start)
    }

    /// Sets the template variables every windowed kernel uses.
    pub fn set(&self, out: &mut KernelEmit) {
        out.set("in_h", self.in_h);
        out.set("in_w", self.in_w);
        out.set("in_plane", self.in_h * self.in_w);
        out.set("out_h", self.out_h);
        out.set("out_w", self.out_w);
        out.set("out_plane", self.out_h * self.out_w);
        out.set("stride_h", self.strides[0]);
        out.set("stride_w", self.strides[1]);
        out.set("pad_top", self.pads[0]);
        out.set("pad_left", self.pads[1]);
        out.set("kernel_size", self.kernel[0] * self.kernel[1]);
        out.set("bounds_checks", self.needs_bounds_checks());
        out.set("taps", self.taps());
    }

    pub fn describe(&self) -> String {
        format!(
            "kernel {}x{}, stride {}x{}, dilation {}x{}, pads {:?}",
            self.kernel[0],
            self.kernel[1],
            self.strides[0],
            self.strides[1],
            self.dilations[0],
            self.dilations[1],
            self.pads
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output column inside `interior_columns` has all its taps inside the row, every
    /// other column has one outside, and the range ends within the output row.
    #[test]
    fn interior_columns_are_exactly_the_unpadded_ones() {
        for in_w in 1..9 {
            for kernel in 1..5 {
                for stride in 1..4 {
                    for dilation in 1..3 {
                        for left in 0..4 {
                            for right in 0..4 {
                                let extent = dilation * (kernel - 1) + 1;
                                let span = in_w + left + right;
                                if span < extent {
                                    continue;
                                }
                                let window = Window {
                                    in_h: 1,
                                    in_w,
                                    kernel: [1, kernel],
                                    strides: [1, stride],
                                    dilations: [1, dilation],
                                    pads: [0, left, 0, right],
                                    out_h: 1,
                                    out_w: (span - extent) / stride + 1,
                                };
                                let inside = |ox: usize| {
                                    (0..kernel).all(|k| {
                                        let padded = ox * stride + k * dilation;
                                        padded >= left && padded - left < in_w
                                    })
                                };
                                let interior = window.interior_columns();
                                assert!(interior.end <= window.out_w, "{window:?}");
                                for ox in 0..window.out_w {
                                    assert_eq!(
                                        interior.contains(&ox),
                                        inside(ox),
                                        "{window:?} column {ox}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
