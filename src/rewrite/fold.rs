//! Constant folding at load time: `Constant` nodes, `Identity` of constants,
//! `QuantizeLinear` of float initializers (how PyTorch exports fake-quantized weights), `Clip`
//! of the integer constants such a `QuantizeLinear` gives (how the dynamo exporter writes a
//! PT2E per-channel weight that was not quantized at conversion), and the shape arithmetic
//! PyTorch's TorchScript exporter writes for a recurrent layer's zero initial state
//! (`Shape` of the input, `Gather`, `Unsqueeze`, `Concat`, `ConstantOfShape`).

use crate::error::{Error, Result};
use crate::onnx::{
    axis_index, normalize_axis, quantized_dtype, Attribute, Constant, DType, Graph, Node,
};

pub fn fold_constants(graph: &mut Graph) -> Result<()> {
    let nodes = std::mem::take(&mut graph.nodes);
    // Static shapes known so far: the graph inputs', carried through the ops that keep them.
    let mut shapes: std::collections::BTreeMap<String, Vec<usize>> = graph
        .inputs
        .iter()
        .filter_map(|i| Some((i.name.clone(), i.shape.clone()?)))
        .collect();
    for node in nodes {
        if SHAPE_KEEPING.contains(&node.op_type.as_str()) {
            let known = node.inputs.first().and_then(|i| shapes.get(i)).cloned();
            if let (Some(shape), Some(output)) = (known, node.outputs.first()) {
                shapes.insert(output.clone(), shape);
            }
        }
        if node.op_type == "Shape" && node.domain.is_empty() {
            if let Some(value) = shape_of(&node, &shapes)? {
                graph
                    .constants
                    .insert(node.single_output()?.to_string(), value);
                continue;
            }
        }
        match fold_node(graph, &node)? {
            Some(value) => {
                let output = node
                    .outputs
                    .first()
                    .ok_or_else(|| Error::node(&node, "has no output"))?;
                graph.constants.insert(output.clone(), value);
            }
            None => graph.nodes.push(node),
        }
    }
    Ok(())
}

/// The constant a node evaluates to, when it does.
fn fold_node(graph: &Graph, node: &Node) -> Result<Option<Constant>> {
    if !node.domain.is_empty() && node.domain != "ai.onnx" {
        return Ok(None);
    }
    let constant = |i: usize| {
        node.inputs
            .get(i)
            .filter(|n| !n.is_empty())
            .and_then(|n| graph.constants.get(n))
    };
    Ok(match node.op_type.as_str() {
        "Constant" => Some(constant_attribute(node)?),
        "Identity" => constant(0).cloned(),
        "QuantizeLinear" => match (constant(0), constant(1)) {
            (Some(x), Some(scale)) if x.dtype.is_float() => {
                check_parameters(node, scale, constant(2), None)?;
                Some(quantize_linear(node, x, scale, constant(2))?)
            }
            _ => None,
        },
        "Clip" => match constant(0) {
            Some(x) if x.dtype.int_range().is_some() => {
                Some(clip(node, x, constant(1), constant(2))?)
            }
            _ => None,
        },
        "Gather" => match (constant(0), constant(1)) {
            (Some(data), Some(indices)) if data.dims.len() == 1 => {
                Some(gather(node, data, indices)?)
            }
            _ => None,
        },
        "Unsqueeze" => match constant(0) {
            Some(x) if x.dims.len() <= 1 && x.len() == 1 => Some(Constant {
                dims: vec![1],
                ..x.clone()
            }),
            _ => None,
        },
        "Concat" => {
            let parts: Option<Vec<&Constant>> = (0..node.inputs.len()).map(constant).collect();
            match parts {
                Some(parts) if !parts.is_empty() && parts.iter().all(|p| p.dims.len() == 1) => {
                    Some(Constant {
                        dtype: parts[0].dtype,
                        dims: vec![parts.iter().map(|p| p.len()).sum()],
                        values: parts
                            .iter()
                            .flat_map(|p| p.values.iter().copied())
                            .collect(),
                    })
                }
                _ => None,
            }
        }
        "ConstantOfShape" => match constant(0) {
            Some(shape) => Some(constant_of_shape(node, shape)?),
            None => None,
        },
        _ => None,
    })
}

/// Ops whose output has their first input's shape, through which [`fold_constants`] carries a
/// graph input's static shape to a `Shape`.
const SHAPE_KEEPING: &[&str] = &[
    "QuantizeLinear",
    "DequantizeLinear",
    "Identity",
    "Relu",
    "Clip",
];

/// `Shape` of a tensor whose static shape is known (opset 15's `start` and `end` included).
fn shape_of(
    node: &Node,
    shapes: &std::collections::BTreeMap<String, Vec<usize>>,
) -> Result<Option<Constant>> {
    let Some(shape) = node.inputs.first().and_then(|i| shapes.get(i)) else {
        return Ok(None);
    };
    let rank = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let start = clamp(node.attr_int("start", 0)?);
    let end = clamp(node.attr_int("end", rank)?);
    let dims: &[usize] = shape.get(start..end.max(start)).unwrap_or_default();
    Ok(Some(Constant {
        dtype: DType::I64,
        dims: vec![dims.len()],
        values: dims.iter().map(|&d| d as f64).collect(),
    }))
}

/// `Gather` of a constant 1-D tensor (a shape) at constant indices.
fn gather(node: &Node, data: &Constant, indices: &Constant) -> Result<Constant> {
    let n = data.len() as i64;
    let values = indices
        .values
        .iter()
        .map(|&i| {
            let i = i as i64;
            let k = if i < 0 { i + n } else { i };
            data.values
                .get(k as usize)
                .copied()
                .filter(|_| (0..n).contains(&k))
                .ok_or_else(|| {
                    Error::node(node, format!("index {i} is out of range for {n} elements"))
                })
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(Constant {
        dtype: data.dtype,
        dims: indices.dims.clone(),
        values,
    })
}

/// `ConstantOfShape`: a tensor of the given constant shape filled with `value` (0.0 f32 by
/// default), within the size a constant may have.
fn constant_of_shape(node: &Node, shape: &Constant) -> Result<Constant> {
    let dims: Vec<usize> = shape
        .values
        .iter()
        .map(|&d| {
            (d >= 0.0 && d <= (1u64 << 24) as f64)
                .then_some(d as usize)
                .ok_or_else(|| Error::node(node, format!("dimension {d} is not a size")))
        })
        .collect::<Result<_>>()?;
    let len = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= 1 << 24);
    let Some(len) = len else {
        return Err(Error::node(
            node,
            format!("shape {dims:?} is too large for a constant"),
        ));
    };
    let fill = match node.attributes.get("value") {
        None => Constant::scalar(DType::F32, 0.0),
        Some(Attribute::Tensor(t)) if t.len() == 1 => t.clone(),
        Some(other) => {
            return Err(Error::node(
                node,
                format!("value {other:?} must be a one-element tensor"),
            ))
        }
    };
    Ok(Constant {
        dtype: fill.dtype,
        dims,
        values: vec![fill.values[0]; len],
    })
}

/// `Clip` of an integer constant: `min(max(x, lo), hi)`, as ONNX Runtime computes it. The
/// bounds (opset 11 inputs) must be constant scalars: an integer constant is a weight, and a
/// weight with a bound only known at run time has no codegen form.
fn clip(
    node: &Node,
    x: &Constant,
    lo: Option<&Constant>,
    hi: Option<&Constant>,
) -> Result<Constant> {
    let bound = |index: usize, value: Option<&Constant>| -> Result<Option<f64>> {
        let named = node.inputs.get(index).is_some_and(|n| !n.is_empty());
        match value {
            Some(c) => c.single().map(Some).ok_or_else(|| {
                Error::node(node, format!("bound input {index} of a Clip of constant '{}' must be a scalar", node.inputs[0]))
            }),
            None if named => Err(Error::node(
                node,
                format!(
                    "Clip of the constant '{}' has a bound that is not a constant ('{}'); a weight needs constant bounds",
                    node.inputs[0], node.inputs[index]
                ),
            )),
            None => Ok(None),
        }
    };
    let (lo, hi) = (bound(1, lo)?, bound(2, hi)?);
    let values = x
        .values
        .iter()
        .map(|&v| {
            let v = lo.map_or(v, |lo| v.max(lo));
            hi.map_or(v, |hi| v.min(hi))
        })
        .collect();
    Ok(Constant {
        dtype: x.dtype,
        dims: x.dims.clone(),
        values,
    })
}

fn constant_attribute(node: &Node) -> Result<Constant> {
    let (name, value) = node
        .attributes
        .iter()
        .next()
        .ok_or_else(|| Error::node(node, "Constant node has no value attribute"))?;
    Ok(match (name.as_str(), value) {
        ("value", Attribute::Tensor(t)) => t.clone(),
        ("value_float", Attribute::Float(v)) => Constant::scalar(DType::F32, *v as f64),
        ("value_int", Attribute::Int(v)) => Constant::scalar(DType::I64, *v as f64),
        ("value_floats", Attribute::Floats(v)) => Constant {
            dtype: DType::F32,
            dims: vec![v.len()],
            values: v.iter().map(|&x| x as f64).collect(),
        },
        ("value_ints", Attribute::Ints(v)) => Constant {
            dtype: DType::I64,
            dims: vec![v.len()],
            values: v.iter().map(|&x| x as f64).collect(),
        },
        (other, _) => {
            return Err(Error::node(
                node,
                format!("Constant attribute '{other}' is not supported"),
            ))
        }
    })
}

/// Every QuantizeLinear and DequantizeLinear with constant parameters: a scale with values, a
/// zero point with one per scale and of the quantized type. Later passes index by channel and
/// trust these.
pub fn check_quantization_parameters(graph: &Graph) -> Result<()> {
    let quantized_by: std::collections::BTreeMap<&str, &Node> = graph
        .nodes
        .iter()
        .filter(|n| n.op_type == "QuantizeLinear")
        .flat_map(|n| n.outputs.iter().map(move |o| (o.as_str(), n)))
        .collect();
    for node in &graph.nodes {
        let dequantize = match node.op_type.as_str() {
            "QuantizeLinear" => false,
            "DequantizeLinear" => true,
            _ => continue,
        };
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            continue;
        }
        let constant = |i: usize| {
            node.inputs
                .get(i)
                .filter(|n| !n.is_empty())
                .and_then(|n| graph.constants.get(n))
        };
        let Some(scale) = constant(1) else { continue };
        // The integer type a DequantizeLinear reads: its constant input's, or what the
        // QuantizeLinear producing it writes.
        let input_type = if dequantize {
            match constant(0) {
                Some(x) => Some(x.dtype),
                None => node
                    .inputs
                    .first()
                    .and_then(|x| quantized_by.get(x.as_str()))
                    .map(|p| {
                        let zp = p.inputs.get(2).and_then(|z| graph.constants.get(z));
                        quantized_dtype(p, zp)
                    })
                    .transpose()?,
            }
        } else {
            None
        };
        check_parameters(node, scale, constant(2), input_type)?;
    }
    Ok(())
}

/// The checks of [`check_quantization_parameters`] for one node; `input_type` is the integer
/// type a DequantizeLinear reads, when known.
fn check_parameters(
    node: &Node,
    scale: &Constant,
    zero_point: Option<&Constant>,
    input_type: Option<DType>,
) -> Result<()> {
    if scale.is_empty() {
        return Err(Error::node(
            node,
            format!("the scale is empty (shape {:?})", scale.dims),
        ));
    }
    if scale.values.iter().any(|s| !s.is_finite()) {
        return Err(Error::node(node, "the scale is not finite"));
    }
    let Some(zp) = zero_point else { return Ok(()) };
    if zp.len() != scale.len() {
        return Err(Error::node(
            node,
            format!(
                "the zero point has {} values for {} scales",
                zp.len(),
                scale.len()
            ),
        ));
    }
    if zp.dtype.is_float() {
        return Err(Error::node(
            node,
            format!("the zero point is {:?}, not an integer type", zp.dtype),
        ));
    }
    let expected = if node.op_type == "QuantizeLinear" {
        match node.attr_int("output_dtype", 0)? {
            0 => None,
            code => Some(DType::from_onnx(code as i32).map_err(|m| Error::node(node, m))?),
        }
    } else {
        input_type
    };
    if let Some(expected) = expected.filter(|&t| t != zp.dtype) {
        return Err(Error::node(
            node,
            format!(
                "the zero point is {:?}, the quantized tensor {expected:?}",
                zp.dtype
            ),
        ));
    }
    Ok(())
}

/// ONNX QuantizeLinear exactly as ONNX Runtime computes it: `x / scale` in f32, rounded half
/// to even, plus the zero point, saturated.
fn quantize_linear(
    node: &Node,
    x: &Constant,
    scale: &Constant,
    zero_point: Option<&Constant>,
) -> Result<Constant> {
    let dtype = quantized_dtype(node, zero_point)?;
    let (lo, hi) = dtype
        .int_range()
        .ok_or_else(|| Error::node(node, format!("cannot quantize to {dtype:?}")))?;
    let per_axis = scale.len() > 1;
    let axis = if per_axis {
        normalize_axis(node, node.attr_int("axis", 1)?, x.dims.len())?
    } else {
        0
    };
    if per_axis && x.dims.get(axis) != Some(&scale.len()) {
        return Err(Error::node(
            node,
            format!(
                "per-axis scale has {} values but axis {axis} of {:?} has size {:?}",
                scale.len(),
                x.dims,
                x.dims.get(axis)
            ),
        ));
    }
    let channel = axis_index(&x.dims, axis);
    let values = x
        .values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = if per_axis { channel(i) } else { 0 };
            let zp = zero_point.map_or(0.0, |z| z.values.get(c).copied().unwrap_or(0.0));
            let q = ((v as f32) / (scale.values[c] as f32)).round_ties_even() as f64 + zp;
            // NaN saturates low, as in ONNX Runtime.
            if q.is_nan() {
                lo as f64
            } else {
                q.clamp(lo as f64, hi as f64)
            }
        })
        .collect();
    Ok(Constant {
        dtype,
        dims: x.dims.clone(),
        values,
    })
}
