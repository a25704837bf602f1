//! Resize (opset 10+), computed as ONNX Runtime's CPU kernel computes it, for bit-exactness:
//! - `nearest`: every output coordinate picks one input coordinate; an index table (the move
//!   kernel of the layout ops).
//! - `linear`: ONNX Runtime's bilinear interpolation over H and W of an NCHW input, or its
//!   trilinear one over all three axes of an NCL input (N and C keep their size, so along
//!   them the weights are 1 and 0, or 1/2 and 1/2 on the last index, exactly as ONNX Runtime
//!   treats an axis of scale 1). ONNX Runtime (graph optimisations off) dequantizes, computes
//!   `((d_x * d_y) [* d_z]) * X` for the 4 or 8 neighbours and sums them in f32 in a fixed
//!   order, then quantizes. The weights `d` are computed here with the same f32 operations.
//!   When every weight is a dyadic rational with few bits (2x upsampling, halving), all those
//!   f32 operations are exact, so an integer sum and one rounding shift give the same result;
//!   otherwise the kernel performs ONNX Runtime's f32 operations in its order.

use super::movement::{define_move, Source};
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Lowering;
use crate::lower::Pending;
use crate::onnx::Node;
use std::rc::Rc;

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = crate::lower::nonempty_input(lowering, node)?;
    let geometry = Geometry::parse(lowering, node, &shape)?;
    let mode = node.attr_string("mode", "nearest")?;
    if geometry.out_shape == shape {
        // ONNX Runtime copies the input when no dimension changes, whatever the scales say.
        let identity = |out: &[usize]| Some(out.to_vec());
        return define_move(lowering, node, 0, input, shape, &identity, None);
    }
    match mode.as_str() {
        "nearest" => geometry.lower_nearest(lowering, node, input),
        "linear" => geometry.lower_linear(lowering, node, input),
        other => Err(Error::node(
            node,
            format!("mode '{other}' is not supported (nearest, linear)"),
        )),
    }
}

/// ONNX Runtime's map from an output coordinate to an input coordinate, in f32.
#[derive(Debug, Clone, Copy)]
enum Transform {
    HalfPixel,
    PytorchHalfPixel,
    Asymmetric,
    TfHalfPixelForNn,
    AlignCorners,
}

impl Transform {
    fn parse(node: &Node, opset: i64) -> Result<Transform> {
        // Before opset 11 the attribute did not exist and the transform was asymmetric.
        if opset < 11 {
            return Ok(Transform::Asymmetric);
        }
        match node
            .attr_string("coordinate_transformation_mode", "half_pixel")?
            .as_str()
        {
            "half_pixel" => Ok(Transform::HalfPixel),
            "pytorch_half_pixel" => Ok(Transform::PytorchHalfPixel),
            "asymmetric" => Ok(Transform::Asymmetric),
            "tf_half_pixel_for_nn" => Ok(Transform::TfHalfPixelForNn),
            "align_corners" => Ok(Transform::AlignCorners),
            other => Err(Error::node(
                node,
                format!("coordinate_transformation_mode '{other}' is not supported (half_pixel, pytorch_half_pixel, asymmetric, tf_half_pixel_for_nn, align_corners)"),
            )),
        }
    }

    /// The input coordinate of output coordinate `o`, each f32 operation as ONNX Runtime's.
    /// An axis of scale 1 maps identically (ONNX Runtime skips the transform there).
    fn original(self, o: usize, scale: f32, in_dim: usize, out_dim: usize) -> f32 {
        let o = o as f32;
        if scale == 1.0 {
            return o;
        }
        match self {
            Transform::HalfPixel => (o + 0.5) / scale - 0.5,
            Transform::PytorchHalfPixel if out_dim > 1 => (o + 0.5) / scale - 0.5,
            Transform::PytorchHalfPixel => 0.0,
            Transform::Asymmetric => o / scale,
            Transform::TfHalfPixelForNn => (o + 0.5) / scale,
            Transform::AlignCorners if out_dim == 1 => 0.0,
            Transform::AlignCorners => o * (in_dim as f32 - 1.0) / (out_dim as f32 - 1.0),
        }
    }
}

/// The input and output shapes, the f32 scales ONNX Runtime uses, and the coordinate transform.
struct Geometry {
    in_shape: Vec<usize>,
    scales: Vec<f32>,
    out_shape: Vec<usize>,
    transform: Transform,
}

impl Geometry {
    fn parse(lowering: &Lowering, node: &Node, shape: &[usize]) -> Result<Geometry> {
        let opset = lowering.graph.opset;
        if opset >= 18 {
            if node.attr_int("antialias", 0)? != 0 {
                return Err(Error::node(node, "antialias is not supported"));
            }
            if node.attr_ints("axes")?.is_some() {
                return Err(Error::node(
                    node,
                    "the axes attribute is not supported (give scales or sizes for every axis)",
                ));
            }
            let policy = node.attr_string("keep_aspect_ratio_policy", "stretch")?;
            if policy != "stretch" {
                return Err(Error::node(
                    node,
                    format!("keep_aspect_ratio_policy '{policy}' is not supported (stretch)"),
                ));
            }
        }
        // Opset 10 has (X, scales); opset 11 added roi before scales, and sizes.
        let (scales_input, sizes) = if opset < 11 {
            (lowering.constant(node, 1)?, None)
        } else {
            (lowering.constant(node, 2)?, lowering.constant(node, 3)?)
        };
        let (scales, out_shape): (Vec<f32>, Vec<usize>) = match (scales_input, sizes) {
            (_, Some(sizes)) if !sizes.is_empty() => {
                let sizes: Vec<usize> = sizes.values.iter().map(|&v| v.max(0.0) as usize).collect();
                // ONNX Runtime derives the scales in f32 from the sizes.
                let scales = sizes
                    .iter()
                    .zip(shape)
                    .map(|(&o, &i)| o as f32 / i as f32)
                    .collect();
                (scales, sizes)
            }
            (Some(scales), _) if !scales.is_empty() => {
                let scales: Vec<f32> = scales.values.iter().map(|&v| v as f32).collect();
                // ONNX Runtime truncates the f32 product.
                let sizes = scales
                    .iter()
                    .zip(shape)
                    .map(|(&s, &i)| (s * i as f32).max(0.0) as usize)
                    .collect();
                (scales, sizes)
            }
            _ => return Err(Error::node(node, "needs constant scales or sizes")),
        };
        if scales.len() != shape.len()
            || out_shape.contains(&0)
            || scales.iter().any(|&s| s <= 0.0 || !s.is_finite())
        {
            return Err(Error::node(
                node,
                format!("scales {scales:?} / sizes {out_shape:?} do not fit input {shape:?}"),
            ));
        }
        crate::lower::checked_len(lowering, node, &out_shape, 1)?;
        Ok(Geometry {
            in_shape: shape.to_vec(),
            scales,
            out_shape,
            transform: Transform::parse(node, opset)?,
        })
    }
}

impl Geometry {
    /// Mode `nearest`: ONNX Runtime's pick per axis, then an index table.
    fn lower_nearest(&self, lowering: &mut Lowering, node: &Node, input: TensorId) -> Result<()> {
        let shape = &self.in_shape;
        let opset = lowering.graph.opset;
        // Opset 10 had no nearest_mode: it rounds up when downsampling and truncates otherwise.
        let nearest = if opset < 11 {
            "opset10".to_string()
        } else {
            node.attr_string("nearest_mode", "round_prefer_floor")?
        };
        let mut picks: Vec<Vec<usize>> = Vec::with_capacity(shape.len());
        for (axis, &in_dim) in shape.iter().enumerate() {
            let (scale, out_dim) = (self.scales[axis], self.out_shape[axis]);
            let axis_picks = (0..out_dim)
                .map(|o| {
                    let x = self.transform.original(o, scale, in_dim, out_dim);
                    let i = match nearest.as_str() {
                        "round_prefer_floor" if x == x.floor() + 0.5 => x.floor(),
                        "round_prefer_ceil" if x == x.floor() + 0.5 => x.ceil(),
                        "round_prefer_floor" | "round_prefer_ceil" => x.round(),
                        "floor" => x.floor(),
                        "ceil" => x.ceil(),
                        "opset10" if scale < 1.0 => x.ceil(),
                        "opset10" => x.trunc(),
                        other => {
                            return Err(Error::node(
                                node,
                                format!("nearest_mode '{other}' is not supported"),
                            ))
                        }
                    };
                    Ok(i.clamp(0.0, in_dim as f32 - 1.0) as usize)
                })
                .collect::<Result<Vec<_>>>()?;
            picks.push(axis_picks);
        }
        let source: &Source =
            &|out: &[usize]| Some(out.iter().zip(&picks).map(|(&o, p)| p[o]).collect());
        define_move(
            lowering,
            node,
            0,
            input,
            self.out_shape.clone(),
            source,
            None,
        )
    }

    /// Mode `linear`, NCL (trilinear over all axes) or NCHW (bilinear over H and W).
    fn lower_linear(&self, lowering: &mut Lowering, node: &Node, input: TensorId) -> Result<()> {
        let shape = &self.in_shape;
        let rank = shape.len();
        if !(rank == 3 || rank == 4) {
            return Err(Error::node(
                node,
                format!(
                    "linear mode supports NCL and NCHW inputs (rank 3 or 4), not shape {shape:?}"
                ),
            ));
        }
        if self.scales[0] != 1.0 || self.scales[1] != 1.0 {
            return Err(Error::node(
                node,
                format!(
                    "linear mode resizes the spatial axes only; N and C scales are {:?}",
                    &self.scales[..2]
                ),
            ));
        }
        if matches!(self.transform, Transform::TfHalfPixelForNn) {
            return Err(Error::node(
                node,
                "coordinate_transformation_mode 'tf_half_pixel_for_nn' is for nearest mode only",
            ));
        }
        // ONNX Runtime interpolates every axis of a rank-3 input and the last two of a rank-4 one.
        let first = if rank == 3 { 0 } else { 2 };
        let taps: Vec<AxisTaps> = (first..rank)
            .map(|a| axis_taps(self.transform, self.scales[a], shape[a], self.out_shape[a]))
            .collect();
        let pending = LinearPending {
            node: node.clone(),
            input,
            in_shape: shape.to_vec(),
            out_shape: self.out_shape.clone(),
            first,
            taps,
        };
        crate::lower::define_pending(lowering, node, Rc::new(pending))
    }
}

/// Along one interpolated axis, per output coordinate: the two input coordinates ONNX Runtime
/// reads and their weights `[d2, d1]` (the first neighbour's weight, then the second's).
#[derive(Debug, Clone)]
struct AxisTaps {
    neighbours: Vec<[usize; 2]>,
    weights: Vec<[f32; 2]>,
}

/// ONNX Runtime's bilinear/trilinear set-up for one axis: the clamped input coordinate, its
/// floor and the next index, and their distances in f32; one index repeated gets 1/2 each.
fn axis_taps(transform: Transform, scale: f32, in_dim: usize, out_dim: usize) -> AxisTaps {
    let last = in_dim - 1;
    let (neighbours, weights) = (0..out_dim)
        .map(|o| {
            let x = transform
                .original(o, scale, in_dim, out_dim)
                .min(last as f32)
                .max(0.0);
            let first = (x as usize).min(last);
            let second = (first + 1).min(last);
            let weights = if first == second {
                [0.5, 0.5]
            } else {
                [(x - second as f32).abs(), (x - first as f32).abs()]
            };
            ([first, second], weights)
        })
        .unzip();
    AxisTaps {
        neighbours,
        weights,
    }
}

/// Bits after the binary point of `v` when it is a dyadic rational with at most 24 of them.
fn fraction_bits(v: f32) -> Option<u32> {
    (0..=24).find(|&k| {
        let scaled = v as f64 * 2f64.powi(k as i32);
        scaled == scaled.trunc()
    })
}

/// With all weights multiples of 2^-K, K <= 17, ONNX Runtime's f32 arithmetic is exact: every
/// product weight has at most K bits, every `w * q` and every partial sum is an integer
/// multiple of 2^-K times at most 128 (the weights sum to 1), so below 2^24 units.
const MAX_EXACT_FRACTION_BITS: u32 = 17;

#[derive(Debug)]
struct LinearPending {
    node: Node,
    input: TensorId,
    in_shape: Vec<usize>,
    out_shape: Vec<usize>,
    /// The first interpolated axis; the axes before it are independent planes.
    first: usize,
    taps: Vec<AxisTaps>,
}

impl LinearPending {
    /// Integer weights per axis and the total bits K, when ONNX Runtime's f32 arithmetic is
    /// exact (see [`MAX_EXACT_FRACTION_BITS`]).
    fn exact_weights(&self) -> Option<(Vec<Vec<[i64; 2]>>, u32)> {
        let mut total = 0;
        let mut axes = Vec::with_capacity(self.taps.len());
        for taps in &self.taps {
            let bits = taps
                .weights
                .iter()
                .flatten()
                .map(|&w| fraction_bits(w))
                .collect::<Option<Vec<u32>>>()?
                .into_iter()
                .max()
                .unwrap_or(0);
            total += bits;
            let scale = 2f64.powi(bits as i32);
            axes.push(
                taps.weights
                    .iter()
                    .map(|w| w.map(|d| (d as f64 * scale) as i64))
                    .collect(),
            );
        }
        (total <= MAX_EXACT_FRACTION_BITS).then_some((axes, total))
    }
}

impl Pending for LinearPending {
    fn output_shape(&self) -> &[usize] {
        &self.out_shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let ex = lowering.tensor(self.input).exponent;
        let arithmetic = match self.exact_weights() {
            Some((weights, bits)) => WeightArithmetic::Exact {
                weights,
                shift: bits as i32 + output_exponent - ex,
            },
            None => {
                // The kernel sums w * q and scales by 2^(ex - ey) once; ONNX Runtime's values
                // are these times 2^ex, which is exact while nothing is subnormal or infinite:
                // products of weights of at least 2^-60 with |x| >= 2^-60.
                let smallest: f64 = self
                    .taps
                    .iter()
                    .map(|t| {
                        t.weights
                            .iter()
                            .flatten()
                            .filter(|&&w| w > 0.0)
                            .fold(1f64, |m, &w| m.min(w as f64))
                    })
                    .product();
                if !(-60..=60).contains(&ex)
                    || !(-126..=127).contains(&(ex - output_exponent))
                    || smallest < 2f64.powi(-60)
                {
                    return Err(Error::node(
                        &self.node,
                        format!("exponents {ex} (input) / {output_exponent} (output) or an interpolation weight of {smallest:e} are out of the range where f32 scaling is exact"),
                    ));
                }
                WeightArithmetic::Float {
                    weights: self
                        .taps
                        .iter()
                        .map(|t| {
                            t.weights
                                .iter()
                                .map(|w| w.map(|d| d.to_bits() as i64))
                                .collect()
                        })
                        .collect(),
                    inverse_scale: 2f64.powi(ex - output_exponent),
                }
            }
        };
        let strides: Vec<usize> = (0..self.in_shape.len())
            .map(|a| self.in_shape[a + 1..].iter().product())
            .collect();
        let offsets = self
            .taps
            .iter()
            .zip(&strides[self.first..])
            .map(|(t, &stride)| {
                t.neighbours
                    .iter()
                    .map(|n| n.map(|i| (i * stride) as i64))
                    .collect()
            })
            .collect();
        let kernel = LinearKernel {
            planes: self.in_shape[..self.first].iter().product(),
            in_plane: self.in_shape[self.first..].iter().product(),
            out_plane: self.out_shape[self.first..].iter().product(),
            offsets,
            arithmetic,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

/// How linear Resize computes: in exact integers, or ONNX Runtime's f32 operations.
#[derive(Debug)]
enum WeightArithmetic {
    /// Integer weights `d * 2^k_axis`; the sum is requantized by `shift`.
    Exact {
        weights: Vec<Vec<[i64; 2]>>,
        shift: i32,
    },
    /// f32 weights (as bits); the f32 sum of `w * q` is quantized with `inverse_scale`.
    Float {
        weights: Vec<Vec<[i64; 2]>>,
        inverse_scale: f64,
    },
}

#[derive(Debug)]
struct LinearKernel {
    planes: usize,
    in_plane: usize,
    out_plane: usize,
    /// Per interpolated axis and output coordinate: the two neighbours' offsets in the plane.
    offsets: Vec<Vec<[i64; 2]>>,
    arithmetic: WeightArithmetic,
    clamp: Clamp,
}

/// ONNX Runtime's sum over the 2^A neighbours, in its order: the innermost axis alternates
/// fastest, and each weight is the product of the axes' weights from the innermost out, e.g.
/// `(dx2 * dy2) * X11 + (dx1 * dy2) * X21 + (dx2 * dy1) * X12 + (dx1 * dy1) * X22`.
/// Axis `j`'s weights are `w{j}` and its offsets `o{j}`, both indexed by the neighbour.
fn neighbour_sum(axes: usize) -> String {
    (0..1usize << axes)
        .map(|term| {
            let pick = |j: usize| (term >> (axes - 1 - j)) & 1;
            let weight: Vec<String> = (0..axes)
                .rev()
                .map(|j| format!("w{j}[{}]", pick(j)))
                .collect();
            let offset: Vec<String> = (0..axes).map(|j| format!("o{j}[{}]", pick(j))).collect();
            format!("{} * sample({})", weight.join(" * "), offset.join(" + "))
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

impl Kernel for LinearKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::ResizeLinear)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let offset_elem = Elem::index_below(self.in_plane);
        let (weights, weight_elem, exact) = match &self.arithmetic {
            WeightArithmetic::Exact { weights, shift } => {
                out.set("shift", shift);
                (weights, Elem::I32, true)
            }
            WeightArithmetic::Float {
                weights,
                inverse_scale,
            } => {
                out.set("inverse_scale", format!("{inverse_scale:?}"));
                (weights, Elem::U32, false)
            }
        };
        let mut axes = Vec::new();
        for (j, (offsets, weights)) in self.offsets.iter().zip(weights).enumerate() {
            let flat = |rows: &Vec<[i64; 2]>| rows.iter().flatten().copied().collect();
            let offsets = out.add_static(
                &format!("OFFSETS{j}"),
                offset_elem,
                &[offsets.len(), 2],
                flat(offsets),
            );
            let weights = out.add_static(
                &format!("WEIGHTS{j}"),
                weight_elem,
                &[weights.len(), 2],
                flat(weights),
            );
            axes.push(std::collections::BTreeMap::from([
                ("offsets", offsets),
                ("weights", weights),
            ]));
        }
        out.set("axes", axes);
        out.set("exact", exact);
        out.set("planes", self.planes);
        out.set("in_plane", self.in_plane);
        out.set("out_plane", self.out_plane);
        out.set("sum", neighbour_sum(self.offsets.len()));
        self.clamp.set(out);
        out.describe(format!(
            "{} interpolation as ONNX Runtime, {}",
            if self.offsets.len() == 2 {
                "bilinear"
            } else {
                "trilinear"
            },
            match &self.arithmetic {
                WeightArithmetic::Exact { shift, .. } =>
                    format!("exact in integers, shift {shift}"),
                WeightArithmetic::Float { .. } => "in f32".to_string(),
            }
        ));
        Ok(())
    }

    fn macs(&self) -> u64 {
        (self.planes * self.out_plane) as u64 * (1u64 << self.offsets.len())
    }

    fn shift(&self) -> Option<i32> {
        match self.arithmetic {
            WeightArithmetic::Exact { shift, .. } => Some(shift),
            WeightArithmetic::Float { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_x_half_pixel_taps_are_quarters() {
        let taps = axis_taps(Transform::HalfPixel, 2.0, 3, 6);
        assert_eq!(taps.neighbours[0], [0, 1]);
        // x = -0.25 clamps to 0: all weight on the first neighbour.
        assert_eq!(taps.weights[0], [1.0, 0.0]);
        assert_eq!(taps.weights[1], [0.75, 0.25]);
        assert_eq!(taps.weights[2], [0.25, 0.75]);
        // Past the last input the neighbour repeats, with 1/2 each as in ONNX Runtime.
        assert_eq!(taps.neighbours[5], [2, 2]);
        assert_eq!(taps.weights[5], [0.5, 0.5]);
    }

    #[test]
    fn dyadic_weights_are_detected() {
        assert_eq!(fraction_bits(0.75), Some(2));
        assert_eq!(fraction_bits(1.0), Some(0));
        assert_eq!(fraction_bits(1.0 / 3.0), None);
    }

    #[test]
    fn neighbour_order_is_onnx_runtimes() {
        assert_eq!(
            neighbour_sum(2),
            "w1[0] * w0[0] * sample(o0[0] + o1[0]) + w1[1] * w0[0] * sample(o0[0] + o1[1]) \
             + w1[0] * w0[1] * sample(o0[1] + o1[0]) + w1[1] * w0[1] * sample(o0[1] + o1[1])"
        );
    }
}
