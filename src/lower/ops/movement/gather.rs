//! Gather with constant indices (negative allowed).

use super::define_move;
use crate::error::{Error, Result};
use crate::lower::Lowering;
use crate::onnx::{normalize_axis, Node};

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = super::moved_input(lowering, node)?;
    let rank = shape.len();
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
