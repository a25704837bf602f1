//! ReverseSequence: constant sequence lengths, batch and time axes 0 and 1.

use super::define_move;
use crate::error::{Error, Result};
use crate::lower::Lowering;
use crate::onnx::{normalize_axis, Node};

/// ReverseSequence: along `time_axis`, the first `sequence_lens[b]` steps of batch entry `b`
/// (along `batch_axis`) are reversed and the rest copied.
pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = super::moved_input(lowering, node)?;
    let shape = &shape[..];
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
