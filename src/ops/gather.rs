//! Layout ops that move elements: Transpose, Slice, Split, Pad, Gather (constant indices),
//! DepthToSpace, SpaceToDepth, ReverseSequence (constant lengths), and Resize nearest (from
//! resize.rs). Each is an index table
//! computed at codegen, `y[i] = x[MAP[i]]`, with one kernel for all of them. An index past the
//! input is padding.
//!
//! ONNX Runtime moves the dequantized floats and the QuantizeLinear after the op rounds them,
//! so the op waits for that exponent: elements are requantized by `ey - ex` (a plain copy when
//! equal) and Pad's constant is quantized directly at `ey`.

use super::{Clamp, Kernel, Pending, RealBounds};
use crate::emit::{Elem, KernelEmit};
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::onnx::{normalize_axis, Node};
use crate::quant::lower::PendingValue;
use crate::quant::{Lowering, Value};
use std::rc::Rc;

/// Where output coordinates read from: input coordinates, or `None` for padding.
pub(super) type Source<'a> = dyn Fn(&[usize]) -> Option<Vec<usize>> + 'a;

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let input = lowering.quant_input(node, 0)?;
    let shape = lowering.tensor(input).shape.clone();
    if shape.contains(&0) {
        return Err(Error::node(node, format!("input shape {shape:?} is empty")));
    }
    let rank = shape.len();
    match node.op_type.as_str() {
        "Transpose" => {
            let perm = match node.attr_ints("perm")? {
                Some(p) => p
                    .iter()
                    .map(|&a| normalize_axis(node, a, rank))
                    .collect::<Result<Vec<_>>>()?,
                None => (0..rank).rev().collect(),
            };
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..rank).collect::<Vec<_>>() {
                return Err(Error::node(
                    node,
                    format!("perm {perm:?} is not a permutation of 0..{rank}"),
                ));
            }
            let out_shape: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
            let source = transposed(&perm);
            define_move(lowering, node, 0, input, out_shape, &source, None)
        }
        "Slice" => {
            let ranges = slice_ranges(lowering, node, &shape)?;
            let (out_shape, source) = ranges_source(&ranges);
            define_move(lowering, node, 0, input, out_shape, &source, None)
        }
        "Split" => lower_split(lowering, node, input, &shape),
        "Pad" => lower_pad(lowering, node, input, &shape),
        "ReverseSequence" => lower_reverse_sequence(lowering, node, input, &shape),
        "Gather" => {
            let axis = normalize_axis(node, node.attr_int("axis", 0)?, rank)?;
            let indices = lowering
                .constant(node, 1)?
                .ok_or_else(|| Error::node(node, "indices must be a constant"))?
                .clone();
            let dim = shape[axis] as i64;
            let picks = indices
                .values
                .iter()
                .map(|&v| {
                    if !v.is_finite() || v.fract() != 0.0 {
                        return Err(Error::node(
                            node,
                            format!("index {v} is not an integer (NaN or fractional)"),
                        ));
                    }
                    let i = v as i64;
                    let i = if i < 0 { i.saturating_add(dim) } else { i };
                    usize::try_from(i)
                        .ok()
                        .filter(|&i| i < shape[axis])
                        .ok_or_else(|| {
                            Error::node(
                                node,
                                format!("index {v} is out of range for axis {axis} of size {dim}"),
                            )
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            let k = indices.dims.len();
            let mut out_shape = shape[..axis].to_vec();
            out_shape.extend(&indices.dims);
            out_shape.extend(&shape[axis + 1..]);
            let source = |out: &[usize]| {
                let flat = out[axis..axis + k]
                    .iter()
                    .zip(&indices.dims)
                    .fold(0, |acc, (&c, &d)| acc * d + c);
                let mut coords = out[..axis].to_vec();
                coords.push(picks[flat]);
                coords.extend(&out[axis + k..]);
                Some(coords)
            };
            define_move(lowering, node, 0, input, out_shape, &source, None)
        }
        "DepthToSpace" | "SpaceToDepth" => {
            let [n, c, h, w] = shape[..] else {
                return Err(Error::node(
                    node,
                    format!("input shape {shape:?} is not NCHW"),
                ));
            };
            let blocksize = node.attr_int("blocksize", 0)?;
            // The block must fit the axes it comes from or goes to: that bounds b² too.
            let b = usize::try_from(blocksize)
                .ok()
                .filter(|&b| b >= 1 && b.checked_mul(b).is_some_and(|b2| b2 <= c.max(h * w)))
                .ok_or_else(|| {
                    Error::node(
                        node,
                        format!("blocksize {blocksize} must be at least 1 and its square at most {} (the input's channels or plane)", c.max(h * w)),
                    )
                })?;
            if node.op_type == "DepthToSpace" {
                if c % (b * b) != 0 {
                    return Err(Error::node(
                        node,
                        format!("{c} channels are not divisible by blocksize² = {}", b * b),
                    ));
                }
                let depth = c / (b * b);
                let crd = match node.attr_string("mode", "DCR")?.as_str() {
                    "DCR" => false,
                    "CRD" => true,
                    other => {
                        return Err(Error::node(
                            node,
                            format!("mode '{other}' is not DCR or CRD"),
                        ))
                    }
                };
                let source = |o: &[usize]| {
                    let (i, j) = (o[2] % b, o[3] % b);
                    let channel = if crd {
                        o[1] * b * b + i * b + j
                    } else {
                        (i * b + j) * depth + o[1]
                    };
                    Some(vec![o[0], channel, o[2] / b, o[3] / b])
                };
                let (out_h, out_w) = (
                    super::size::dim(node, "the output height", h.checked_mul(b))?,
                    super::size::dim(node, "the output width", w.checked_mul(b))?,
                );
                define_move(
                    lowering,
                    node,
                    0,
                    input,
                    vec![n, depth, out_h, out_w],
                    &source,
                    None,
                )
            } else {
                if h % b != 0 || w % b != 0 {
                    return Err(Error::node(
                        node,
                        format!("spatial size {h}x{w} is not divisible by blocksize {b}"),
                    ));
                }
                let source = |o: &[usize]| {
                    let (block, channel) = (o[1] / c, o[1] % c);
                    let (i, j) = (block / b, block % b);
                    Some(vec![o[0], channel, o[2] * b + i, o[3] * b + j])
                };
                define_move(
                    lowering,
                    node,
                    0,
                    input,
                    vec![n, c * b * b, h / b, w / b],
                    &source,
                    None,
                )
            }
        }
        other => Err(Error::node(node, format!("{other} is not a layout op"))),
    }
}

/// Output coordinate `i` of a transpose reads input axis `perm[i]`.
fn transposed(perm: &[usize]) -> impl Fn(&[usize]) -> Option<Vec<usize>> + '_ {
    move |out: &[usize]| {
        let mut coords = vec![0; perm.len()];
        for (i, &a) in perm.iter().enumerate() {
            coords[a] = out[i];
        }
        Some(coords)
    }
}

/// Per axis, `(start, step, count)`: output coordinate `o` reads input `start + o * step`.
type Range = (i64, i64, usize);

fn ranges_source(ranges: &[Range]) -> (Vec<usize>, impl Fn(&[usize]) -> Option<Vec<usize>> + '_) {
    let shape = ranges.iter().map(|r| r.2).collect();
    let source = move |out: &[usize]| {
        Some(
            out.iter()
                .zip(ranges)
                .map(|(&o, &(start, step, _))| (start + o as i64 * step) as usize)
                .collect(),
        )
    };
    (shape, source)
}

/// Slice's starts/ends/axes/steps (inputs from opset 10, attributes before), clamped as ONNX
/// specifies.
fn slice_ranges(lowering: &Lowering, node: &Node, shape: &[usize]) -> Result<Vec<Range>> {
    let ints = |index: usize, attr: &str| -> Result<Option<Vec<i64>>> {
        if lowering.graph.opset < 10 {
            return node.attr_ints(attr);
        }
        Ok(lowering
            .constant(node, index)?
            .map(|c| c.values.iter().map(|&v| v as i64).collect()))
    };
    let starts =
        ints(1, "starts")?.ok_or_else(|| Error::node(node, "starts must be a constant"))?;
    let ends = ints(2, "ends")?.ok_or_else(|| Error::node(node, "ends must be a constant"))?;
    let axes = ints(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = ints(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
    if [ends.len(), axes.len(), steps.len()]
        .iter()
        .any(|&l| l != starts.len())
    {
        return Err(Error::node(
            node,
            "starts, ends, axes and steps differ in length",
        ));
    }
    let mut ranges: Vec<Range> = shape.iter().map(|&d| (0, 1, d)).collect();
    for (((&start, &end), &axis), &step) in starts.iter().zip(&ends).zip(&axes).zip(&steps) {
        let axis = normalize_axis(node, axis, shape.len())?;
        let dim = shape[axis] as i64;
        if step == 0 {
            return Err(Error::node(node, "a step of 0 is invalid"));
        }
        let resolve = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (start, end) = (resolve(start), resolve(end));
        let (start, count) = if step > 0 {
            let (s, e) = (start.clamp(0, dim), end.clamp(0, dim));
            (s, ((e - s).max(0) as u64).div_ceil(step as u64))
        } else {
            let (s, e) = (start.clamp(0, dim - 1), end.clamp(-1, dim - 1));
            (s, ((s - e).max(0) as u64).div_ceil(step.unsigned_abs()))
        };
        if count == 0 {
            return Err(Error::node(
                node,
                format!("the slice of axis {axis} is empty"),
            ));
        }
        ranges[axis] = (start, step, count as usize);
    }
    Ok(ranges)
}

fn lower_split(
    lowering: &mut Lowering,
    node: &Node,
    input: TensorId,
    shape: &[usize],
) -> Result<()> {
    let axis = normalize_axis(node, node.attr_int("axis", 0)?, shape.len())?;
    let outputs = node.outputs.len();
    let sizes: Vec<usize> = match if lowering.graph.opset < 13 {
        node.attr_ints("split")?
    } else {
        lowering
            .constant(node, 1)?
            .map(|c| c.values.iter().map(|&v| v as i64).collect())
    } {
        Some(s) => s.iter().map(|&v| v.max(0) as usize).collect(),
        // Equal parts; with opset 18's num_outputs the last part may be smaller.
        None => {
            let part = shape[axis].div_ceil(outputs);
            (0..outputs)
                .map(|i| part.min(shape[axis].saturating_sub(i * part)))
                .collect()
        }
    };
    let total = sizes.iter().try_fold(0usize, |sum, &s| sum.checked_add(s));
    if sizes.len() != outputs || total != Some(shape[axis]) || sizes.contains(&0) {
        return Err(Error::node(
            node,
            format!("split sizes {sizes:?} do not cut axis {axis} of size {} into {outputs} non-empty parts", shape[axis]),
        ));
    }
    let mut start = 0;
    for (index, &size) in sizes.iter().enumerate() {
        let mut ranges: Vec<Range> = shape.iter().map(|&d| (0, 1, d)).collect();
        ranges[axis] = (start as i64, 1, size);
        let (out_shape, source) = ranges_source(&ranges);
        define_move(lowering, node, index, input, out_shape, &source, None)?;
        start += size;
    }
    Ok(())
}

fn lower_pad(lowering: &mut Lowering, node: &Node, input: TensorId, shape: &[usize]) -> Result<()> {
    let rank = shape.len();
    let (pads, value): (Vec<i64>, f64) = if lowering.graph.opset < 11 {
        let pads = node
            .attr_ints("pads")?
            .ok_or_else(|| Error::node(node, "pads is required"))?;
        (pads, node.attr_float("value", 0.0)? as f64)
    } else {
        let pads = lowering
            .constant(node, 1)?
            .ok_or_else(|| Error::node(node, "pads must be a constant"))?
            .values
            .iter()
            .map(|&v| v as i64)
            .collect();
        let value = match lowering.constant(node, 2)? {
            Some(c) => c
                .single()
                .ok_or_else(|| Error::node(node, "constant_value must be a scalar"))?,
            None => 0.0,
        };
        (pads, value)
    };
    // Opset 18's axes input names the padded axes; otherwise pads covers every axis.
    let axes: Vec<usize> = match lowering.constant(node, 3)? {
        Some(c) => c
            .values
            .iter()
            .map(|&a| normalize_axis(node, a as i64, rank))
            .collect::<Result<_>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(Error::node(
            node,
            format!("{} pads for {} axes", pads.len(), axes.len()),
        ));
    }
    let mut begin = vec![0i64; rank];
    let mut end = vec![0i64; rank];
    for (i, &a) in axes.iter().enumerate() {
        begin[a] = pads[i];
        end[a] = pads[i + axes.len()];
    }
    let mode = node.attr_string("mode", "constant")?;
    let out_shape = shape
        .iter()
        .zip(begin.iter().zip(&end))
        .map(|(&d, (&b, &e))| {
            let d = i64::try_from(d).unwrap_or(i64::MAX);
            let sum = d.checked_add(b).and_then(|s| s.checked_add(e));
            match sum {
                None => Err(Error::node(
                    node,
                    format!("pads {pads:?} on shape {shape:?} are too large: the size overflows"),
                )),
                Some(n) if n <= 0 => Err(Error::node(
                    node,
                    format!("pads {pads:?} leave nothing of shape {shape:?}"),
                )),
                Some(n) => super::size::dim(node, "the padded shape", usize::try_from(n).ok()),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    super::checked_len(lowering, node, &out_shape, 1)?;
    let reflect_ok = shape
        .iter()
        .zip(begin.iter().zip(&end))
        .all(|(&d, (&b, &e))| b < d as i64 && e < d as i64);
    let pad_value = match mode.as_str() {
        "constant" => Some(value),
        "edge" => None,
        "reflect" if reflect_ok => None,
        "reflect" => {
            return Err(Error::node(
                node,
                "reflect pads must be smaller than the axis",
            ))
        }
        other => {
            return Err(Error::node(
                node,
                format!("mode '{other}' is not supported (constant, reflect, edge)"),
            ))
        }
    };
    let source = |out: &[usize]| {
        out.iter()
            .zip(shape)
            .zip(&begin)
            .map(|((&o, &d), &b)| {
                let (i, d) = ((o as i64).saturating_sub(b), d as i64);
                match mode.as_str() {
                    "edge" => Some(i.clamp(0, d - 1) as usize),
                    "reflect" => Some(if i < 0 {
                        -i
                    } else if i >= d {
                        2 * (d - 1) - i
                    } else {
                        i
                    } as usize),
                    _ => (0..d).contains(&i).then_some(i as usize),
                }
            })
            .collect()
    };
    define_move(lowering, node, 0, input, out_shape, &source, pad_value)
}

/// ReverseSequence: along `time_axis`, the first `sequence_lens[b]` steps of batch entry `b`
/// (along `batch_axis`) are reversed and the rest copied.
fn lower_reverse_sequence(
    lowering: &mut Lowering,
    node: &Node,
    input: TensorId,
    shape: &[usize],
) -> Result<()> {
    let rank = shape.len();
    if rank < 2 {
        return Err(Error::node(
            node,
            format!("input shape {shape:?} has fewer than 2 axes"),
        ));
    }
    let batch_axis = normalize_axis(node, node.attr_int("batch_axis", 1)?, rank)?;
    let time_axis = normalize_axis(node, node.attr_int("time_axis", 0)?, rank)?;
    if !matches!((batch_axis, time_axis), (0, 1) | (1, 0)) {
        return Err(Error::node(
            node,
            format!("batch_axis {batch_axis} and time_axis {time_axis} must be 0 and 1"),
        ));
    }
    let (batch, steps) = (shape[batch_axis], shape[time_axis]);
    let lens = lowering
        .constant(node, 1)?
        .ok_or_else(|| Error::node(node, "sequence_lens must be a constant"))?;
    if lens.values.len() != batch {
        return Err(Error::node(
            node,
            format!(
                "sequence_lens has {} values for a batch of {batch}",
                lens.values.len()
            ),
        ));
    }
    let lens = lens
        .values
        .iter()
        .map(|&v| {
            usize::try_from(v as i64)
                .ok()
                .filter(|&l| l <= steps)
                .ok_or_else(|| {
                    Error::node(node, format!("sequence length {v} is outside 0..={steps}"))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let source = |out: &[usize]| {
        let mut coords = out.to_vec();
        let (t, len) = (out[time_axis], lens[out[batch_axis]]);
        if t < len {
            coords[time_axis] = len - 1 - t;
        }
        Some(coords)
    };
    define_move(lowering, node, 0, input, shape.to_vec(), &source, None)
}

/// Binds output `index` of `node` to a pending move of `input` with the given source map.
pub(super) fn define_move(
    lowering: &mut Lowering,
    node: &Node,
    index: usize,
    input: TensorId,
    out_shape: Vec<usize>,
    source: &Source,
    pad_value: Option<f64>,
) -> Result<()> {
    let output = node
        .outputs
        .get(index)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| Error::node(node, format!("output {index} is missing")))?;
    let in_shape = lowering.tensor(input).shape.clone();
    let in_len: usize = in_shape.iter().product();
    let map = index_map(lowering, node, &in_shape, &out_shape, source)?;
    let pending = MovePending {
        input,
        map,
        in_len,
        pad_value,
        shape: out_shape,
    };
    lowering.define(
        output,
        Value::Pending(PendingValue {
            compute: Rc::new(pending),
            bounds: RealBounds::default(),
            node: node.clone(),
            ops: node.op_type.clone(),
        }),
    );
    Ok(())
}

/// The input index of every output element, in output order; `in_len` marks padding. The
/// output and its table are checked against the budgets before the table is built.
fn index_map(
    lowering: &Lowering,
    node: &Node,
    in_shape: &[usize],
    out_shape: &[usize],
    source: &Source,
) -> Result<Vec<u32>> {
    let in_len: usize = in_shape.iter().product();
    if in_len >= u32::MAX as usize {
        return Err(Error::node(
            node,
            "the input is too large for an index table",
        ));
    }
    let out_len = super::checked_len(lowering, node, out_shape, 1)?;
    super::checked_table(
        lowering,
        node,
        "index table",
        out_len,
        Elem::index_below(in_len).bytes(),
    )?;
    let mut map = Vec::with_capacity(out_len);
    let mut coords = vec![0; out_shape.len()];
    loop {
        let flat = source(&coords).map_or(in_len, |c| {
            c.iter().zip(in_shape).fold(0, |acc, (&i, &d)| acc * d + i)
        });
        map.push(flat as u32);
        // Next output coordinate, last axis fastest.
        let Some(axis) = (0..coords.len())
            .rev()
            .find(|&a| coords[a] + 1 < out_shape[a])
        else {
            break;
        };
        coords[axis] += 1;
        coords[axis + 1..].iter_mut().for_each(|c| *c = 0);
    }
    Ok(map)
}

/// Emits a transposed copy of `input` at once, at the same exponent (for ops that read an
/// operand transposed, like Gemm's transA), and returns it.
pub fn transpose_now(
    lowering: &mut Lowering,
    node: &Node,
    input: TensorId,
    perm: &[usize],
) -> Result<TensorId> {
    let tensor = lowering.tensor(input).clone();
    let out_shape: Vec<usize> = perm.iter().map(|&a| tensor.shape[a]).collect();
    let map = index_map(lowering, node, &tensor.shape, &out_shape, &transposed(perm))?;
    let kernel = MoveKernel {
        map,
        in_len: tensor.len(),
        shift: 0,
        pad: 0,
        clamp: Clamp::NONE,
    };
    let name = format!("{}_transposed", tensor.name);
    let output = lowering.new_tensor(&name, out_shape, tensor.exponent, None);
    lowering.push_layer(node, "Transpose", vec![input], output, Box::new(kernel));
    Ok(output)
}

#[derive(Debug)]
struct MovePending {
    input: TensorId,
    /// Per output element, its input index; `in_len` means padding.
    map: Vec<u32>,
    in_len: usize,
    pad_value: Option<f64>,
    shape: Vec<usize>,
}

impl Pending for MovePending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let pad = self.pad_value.map_or(0, |v| {
            crate::quant::quantize_real(v, output_exponent, lowering.rounding)
        });
        let kernel = MoveKernel {
            map: self.map.clone(),
            in_len: self.in_len,
            shift: output_exponent - lowering.tensor(self.input).exponent,
            pad: pad.max(clamp.int8().0).min(clamp.int8().1),
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct MoveKernel {
    map: Vec<u32>,
    in_len: usize,
    shift: i32,
    pad: i8,
    clamp: Clamp,
}

impl Kernel for MoveKernel {
    fn template(&self) -> &'static str {
        "move.rs.tera"
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let elem = Elem::index_below(self.in_len);
        let map = out.add_static(
            "SOURCE",
            elem,
            &[self.map.len()],
            self.map.iter().map(|&i| i as i64).collect(),
        );
        out.set("map", map);
        out.set("shift", self.shift);
        out.set("pad", self.pad);
        self.clamp.set(out);
        out.describe(format!(
            "index table, shift {}, padding {}",
            self.shift, self.pad
        ));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }
}
