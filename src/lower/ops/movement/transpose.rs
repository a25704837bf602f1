//! Transpose: any permutation.

use super::define_move;
use crate::error::{Error, Result};
use crate::lower::Lowering;
use crate::onnx::{normalize_axis, Node};

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = super::moved_input(lowering, node)?;
    let rank = shape.len();
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

/// Output coordinate `i` of a transpose reads input axis `perm[i]`.
pub(super) fn transposed(perm: &[usize]) -> impl Fn(&[usize]) -> Option<Vec<usize>> + '_ {
    move |out: &[usize]| {
        let mut coords = vec![0; perm.len()];
        for (i, &a) in perm.iter().enumerate() {
            coords[a] = out[i];
        }
        Some(coords)
    }
}
