//! Identity, Cast to float, Flatten, Reshape, Squeeze and Unsqueeze: the bytes stay where they are, so the output is an alias
//! with a new shape and the same exponent. No code is emitted.

use crate::error::{Error, Result};
use crate::lower::{Lowering, QuantConst, Value};
use crate::onnx::{Constant, Node};
use std::rc::Rc;

pub fn lower_identity(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let output = node.single_output()?;
    let value = lowering.value(node, 0)?.clone();
    lowering.define(output, value);
    Ok(())
}

/// Cast to float of a real value (or of a comparison's boolean, which its pending computation
/// already produces as 0 or 1.0) changes nothing.
pub fn lower_cast(lowering: &mut Lowering, node: &Node) -> Result<()> {
    const FLOAT: i64 = 1;
    let output = node.single_output()?;
    let value = lowering.value(node, 0)?.clone();
    let to = node.attr_int("to", 0)?;
    if to != FLOAT || !matches!(value, Value::Quant(_) | Value::Pending(_)) {
        return Err(Error::node(
            node,
            format!("only Cast to float (1) of an activation or a comparison is supported, found to = {to}"),
        ));
    }
    lowering.define(output, value);
    Ok(())
}

pub fn lower_flatten(lowering: &mut Lowering, node: &Node) -> Result<()> {
    reshape(lowering, node, |_, node, shape| flatten_shape(node, shape))
}

pub fn lower_reshape(lowering: &mut Lowering, node: &Node) -> Result<()> {
    reshape(lowering, node, |lowering, node, shape| {
        let target = lowering
            .constant(node, 1)?
            .ok_or_else(|| Error::node(node, "Reshape needs a constant shape input"))?;
        reshape_shape(node, shape, target)
    })
}

pub fn lower_squeeze(lowering: &mut Lowering, node: &Node) -> Result<()> {
    reshape(lowering, node, |lowering, node, shape| {
        squeeze_shape(lowering, node, shape, true)
    })
}

pub fn lower_unsqueeze(lowering: &mut Lowering, node: &Node) -> Result<()> {
    reshape(lowering, node, |lowering, node, shape| {
        squeeze_shape(lowering, node, shape, false)
    })
}

/// Input 0 under the shape `new_shape` gives it: an alias of an activation, or a constant
/// with new dims.
fn reshape(
    lowering: &mut Lowering,
    node: &Node,
    new_shape: impl FnOnce(&Lowering, &Node, &[usize]) -> Result<Vec<usize>>,
) -> Result<()> {
    let output = node.single_output()?;
    let value = lowering.value(node, 0)?.clone();
    let in_shape = match &value {
        Value::Quant(t) => lowering.tensor(*t).shape.clone(),
        Value::Const(c) => c.dims.clone(),
        Value::QuantConst(q) => q.dims.clone(),
        other => {
            return Err(Error::node(
                node,
                format!("input is {}", crate::lower::describe(other)),
            ))
        }
    };
    let shape = new_shape(lowering, node, &in_shape)?;
    let reshaped = match value {
        Value::Quant(t) => {
            let exponent = lowering.tensor(t).exponent;
            Value::Quant(lowering.new_tensor(output, shape, exponent, Some(t)))
        }
        Value::Const(c) => Value::Const(Constant { dims: shape, ..c }),
        Value::QuantConst(q) => Value::QuantConst(Rc::new(QuantConst {
            dims: shape,
            ..(*q).clone()
        })),
        _ => unreachable!("rejected above"),
    };
    lowering.define(output, reshaped);
    Ok(())
}

fn flatten_shape(node: &Node, shape: &[usize]) -> Result<Vec<usize>> {
    let rank = shape.len() as i64;
    let axis = node.attr_int("axis", 1)?;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..=rank).contains(&axis) {
        return Err(Error::node(
            node,
            format!("axis {axis} is out of range for rank {rank}"),
        ));
    }
    let (outer, inner) = shape.split_at(axis as usize);
    Ok(vec![outer.iter().product(), inner.iter().product()])
}

fn reshape_shape(node: &Node, shape: &[usize], target: &Constant) -> Result<Vec<usize>> {
    let allow_zero = node.attr_int("allowzero", 0)? != 0;
    let total: usize = shape.iter().product();
    let mut dims = Vec::with_capacity(target.len());
    let mut infer = None;
    for (axis, &d) in target.values.iter().enumerate() {
        let d = d as i64;
        match d {
            -1 if infer.is_none() => {
                infer = Some(axis);
                dims.push(1);
            }
            0 if !allow_zero => dims.push(*shape.get(axis).ok_or_else(|| {
                Error::node(
                    node,
                    format!("shape entry 0 at axis {axis} has no input axis to copy"),
                )
            })?),
            d if d >= 0 => dims.push(d as usize),
            _ => {
                return Err(Error::node(
                    node,
                    format!("invalid target shape {:?}", target.values),
                ))
            }
        }
    }
    let known = crate::onnx::element_count(&dims).ok_or_else(|| {
        Error::node(
            node,
            format!("target shape {:?} is too large", target.values),
        )
    })?;
    if let Some(axis) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(Error::node(
                node,
                format!("cannot reshape {shape:?} to {:?}", target.values),
            ));
        }
        dims[axis] = total / known;
    }
    if crate::onnx::element_count(&dims) != Some(total) {
        return Err(Error::node(
            node,
            format!("cannot reshape {shape:?} ({total} elements) to {dims:?}"),
        ));
    }
    Ok(dims)
}

/// Squeeze drops the listed axes of size 1 (all of them by default); Unsqueeze inserts axes of
/// size 1 at the listed output positions. Axes are an attribute before opset 13, an input after.
fn squeeze_shape(
    lowering: &Lowering,
    node: &Node,
    shape: &[usize],
    squeeze: bool,
) -> Result<Vec<usize>> {
    let axes: Option<Vec<i64>> = if lowering.graph.opset < 13 {
        node.attr_ints("axes")?
    } else {
        lowering
            .constant(node, 1)?
            .map(|c| c.values.iter().map(|&v| v as i64).collect())
    };
    if squeeze {
        let axes = match axes {
            Some(axes) => axes
                .iter()
                .map(|&a| crate::onnx::normalize_axis(node, a, shape.len()))
                .collect::<Result<Vec<_>>>()?,
            None => (0..shape.len()).filter(|&a| shape[a] == 1).collect(),
        };
        if let Some(&a) = axes.iter().find(|&&a| shape[a] != 1) {
            return Err(Error::node(
                node,
                format!("axis {a} of shape {shape:?} is not 1"),
            ));
        }
        Ok((0..shape.len())
            .filter(|a| !axes.contains(a))
            .map(|a| shape[a])
            .collect())
    } else {
        let axes = axes.ok_or_else(|| Error::node(node, "axes must be given"))?;
        let rank = shape.len() + axes.len();
        let axes = axes
            .iter()
            .map(|&a| crate::onnx::normalize_axis(node, a, rank))
            .collect::<Result<Vec<_>>>()?;
        let mut rest = shape.iter();
        Ok((0..rank)
            .map(|a| {
                if axes.contains(&a) {
                    1
                } else {
                    rest.next().copied().unwrap_or(1)
                }
            })
            .collect())
    }
}
