//! Split: constant sizes or equal parts, one index table per output.

use super::define_move;
use super::slice::{ranges_source, Range};
use crate::error::{Error, Result};
use crate::lower::Lowering;
use crate::onnx::{normalize_axis, Node};

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = super::moved_input(lowering, node)?;
    let shape = &shape[..];
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
