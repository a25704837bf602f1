//! Slice: constant starts, ends, axes and steps, negative steps included.

use super::define_move;
use crate::error::{Error, Result};
use crate::lower::Lowering;
use crate::onnx::{normalize_axis, Node};

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = super::moved_input(lowering, node)?;
    let ranges = slice_ranges(lowering, node, &shape)?;
    let (out_shape, source) = ranges_source(&ranges);
    define_move(lowering, node, 0, input, out_shape, &source, None)
}

/// Per axis, `(start, step, count)`: output coordinate `o` reads input `start + o * step`.
pub(super) type Range = (i64, i64, usize);

pub(super) fn ranges_source(
    ranges: &[Range],
) -> (Vec<usize>, impl Fn(&[usize]) -> Option<Vec<usize>> + '_) {
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
