//! Axes and per-axis parameters of ONNX nodes.

use super::{Constant, DType, Node};
use crate::error::{Error, Result};

/// The element type a QuantizeLinear node produces (opset 21 `output_dtype`, else the zero
/// point's type, else uint8 as the ONNX default).
pub fn quantized_dtype(node: &Node, zero_point: Option<&Constant>) -> Result<DType> {
    let attr = node.attr_int("output_dtype", 0)?;
    if attr != 0 {
        return DType::from_onnx(attr as i32).map_err(|m| Error::node(node, m));
    }
    Ok(zero_point.map_or(DType::U8, |z| z.dtype))
}

/// The index into a per-axis parameter for each element of a tensor of shape `dims`.
pub fn axis_index(dims: &[usize], axis: usize) -> impl Fn(usize) -> usize + '_ {
    let inner: usize = dims.get(axis + 1..).map_or(1, |d| d.iter().product());
    let size = dims.get(axis).copied().unwrap_or(1);
    move |flat| (flat / inner.max(1)) % size.max(1)
}

/// Resolves a possibly negative ONNX axis.
pub fn normalize_axis(node: &Node, axis: i64, rank: usize) -> Result<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank.max(1) as i64 {
        return Err(Error::node(
            node,
            format!("axis {axis} is out of range for rank {rank}"),
        ));
    }
    Ok(a as usize)
}
