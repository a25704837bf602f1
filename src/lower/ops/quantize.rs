//! QuantizeLinear and DequantizeLinear: where float tensors acquire exponents.
//! - Q of a graph input quantizes the model input (`predict`).
//! - Q of a pending computation emits it as a layer with this output exponent.
//! - Q of a quantized tensor at another exponent is a requantize layer.
//! - DQ is a reinterpretation: the int8 tensor, now seen as float, or integer constants.

use crate::error::{Error, Result};
use crate::ir::{QType, TensorId};
use crate::kernel::KernelEmit;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::lower::describe;
use crate::lower::{Lowering, QuantConst, Value, Weights};
use crate::onnx::{DType, Node};
use crate::quant::accumulator::Accumulator;
use std::rc::Rc;

fn scale_and_zero_point<'a>(
    lowering: &'a Lowering,
    node: &Node,
) -> Result<(&'a crate::onnx::Constant, Option<&'a crate::onnx::Constant>)> {
    let scale = lowering
        .constant(node, 1)?
        .ok_or_else(|| Error::node(node, "the scale input is missing"))?;
    Ok((scale, lowering.constant(node, 2)?))
}

pub fn lower_quantize(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let output = node.single_output()?;
    let (scale, zero_point) = scale_and_zero_point(lowering, node)?;
    let dtype = match crate::onnx::quantized_dtype(node, zero_point)? {
        DType::I8 => QType::I8,
        DType::I16 => QType::I16,
        other => {
            return Err(Error::node(
                node,
                format!("quantizes '{output}' to {other:?}; int8 and int16 are supported"),
            ))
        }
    };
    let exponent = lowering.exponent(node, output, scale, zero_point)?;
    let input_name = lowering.input_name(node, 0)?.to_string();
    let value = match lowering.value(node, 0)?.clone() {
        Value::FloatInput => {
            let shape = lowering
                .graph
                .inputs
                .iter()
                .find(|i| i.name == input_name)
                .and_then(|i| i.shape.clone())
                .unwrap_or_default();
            let tensor = match lowering.input_port(&input_name) {
                Some(t)
                    if lowering.tensor(t).exponent == exponent
                        && lowering.tensor(t).dtype == dtype =>
                {
                    t
                }
                Some(t) => {
                    let first = lowering.tensor(t);
                    return Err(Error::node(
                        node,
                        format!(
                            "graph input '{input_name}' is already quantized as {} at 2^{}; a second quantization ({} at 2^{exponent}) is not supported",
                            first.dtype.rust(),
                            first.exponent,
                            dtype.rust()
                        ),
                    ));
                }
                None => {
                    crate::lower::size::checked_input(
                        lowering,
                        &input_name,
                        &shape,
                        dtype.bytes(),
                    )?;
                    let t = lowering.new_typed_tensor(&input_name, shape, exponent, None, dtype);
                    lowering.add_input_port(&input_name, t);
                    t
                }
            };
            Value::Quant(tensor)
        }
        Value::Quant(x)
            if lowering.tensor(x).exponent == exponent && lowering.tensor(x).dtype == dtype =>
        {
            Value::Quant(x)
        }
        Value::Quant(x) => {
            let y = requantize(lowering, node, output, x, exponent, dtype);
            Value::Quant(y)
        }
        Value::Pending(pending) => {
            let clamp = pending.bounds.to_domain(exponent, dtype, lowering.rounding);
            let shape = pending.compute.output_shape().to_vec();
            let (kernel, inputs) = pending.compute.finish(lowering, exponent, clamp)?;
            let y = lowering.new_typed_tensor(output, shape, exponent, None, dtype);
            lowering.push_layer(&pending.node, &pending.ops, inputs, y, kernel);
            Value::Quant(y)
        }
        other => {
            return Err(Error::node(
                node,
                format!("cannot quantize {}", describe(&other)),
            ))
        }
    };
    lowering.define(output, value);
    Ok(())
}

pub fn lower_dequantize(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let output = node.single_output()?;
    let input_name = lowering.input_name(node, 0)?.to_string();
    let (scale, zero_point) = scale_and_zero_point(lowering, node)?;
    if scale.len() > 1 {
        let weights = channel_weights(lowering, node, &input_name, scale, zero_point)?;
        lowering.define(output, Value::ChannelConst(Rc::new(weights)));
        return Ok(());
    }
    let exponent = lowering.exponent(node, &input_name, scale, zero_point)?;
    let value = match lowering.value(node, 0)?.clone() {
        // The usual case: the DQ undoes the Q before it, at the same exponent.
        Value::Quant(x) if lowering.tensor(x).exponent == exponent => Value::Quant(x),
        // A DQ at another scale reinterprets the same integers: an alias at that exponent.
        Value::Quant(x) => {
            let shape = lowering.tensor(x).shape.clone();
            Value::Quant(lowering.new_tensor(output, shape, exponent, Some(x)))
        }
        Value::Const(c) if !c.dtype.is_float() => Value::QuantConst(Rc::new(QuantConst {
            name: input_name,
            dtype: c.dtype,
            dims: c.dims.clone(),
            values: c.values.iter().map(|&v| v as i64).collect(),
            exponent,
        })),
        other => {
            return Err(Error::node(
                node,
                format!("cannot dequantize {}", describe(&other)),
            ))
        }
    };
    lowering.define(output, value);
    Ok(())
}

/// DequantizeLinear of an integer constant with a 1-D scale along `axis`: per-channel
/// weights or biases, one exponent per slice.
fn channel_weights(
    lowering: &Lowering,
    node: &Node,
    input_name: &str,
    scale: &crate::onnx::Constant,
    zero_point: Option<&crate::onnx::Constant>,
) -> Result<Weights> {
    let constant = match lowering.value(node, 0)? {
        Value::Const(c) if !c.dtype.is_float() => c,
        other => {
            return Err(Error::node(
                node,
                format!(
                    "'{input_name}' has {} scales (per-channel quantization), which only constant weights may have; found {}",
                    scale.len(),
                    describe(other)
                ),
            ))
        }
    };
    if node.attr_int("block_size", 0)? != 0 {
        return Err(Error::node(
            node,
            format!("'{input_name}': blocked quantization (block_size) is not supported"),
        ));
    }
    let rank = constant.dims.len() as i64;
    let axis = node.attr_int("axis", 1)?;
    let axis = if axis < 0 { axis + rank } else { axis };
    let axis_len = usize::try_from(axis)
        .ok()
        .and_then(|a| constant.dims.get(a).map(|&len| (a, len)));
    let Some((axis, _)) = axis_len.filter(|&(_, len)| scale.dims.len() == 1 && len == scale.len())
    else {
        return Err(Error::node(
            node,
            format!(
                "'{input_name}' of shape {:?}: per-channel scale of shape {:?} does not match axis {axis}",
                constant.dims, scale.dims
            ),
        ));
    };
    Ok(Weights {
        name: input_name.to_string(),
        dims: constant.dims.clone(),
        values: constant.values.iter().map(|&v| v as i64).collect(),
        axis: Some(axis),
        exponents: lowering.channel_exponents(node, input_name, scale, zero_point)?,
    })
}

/// Emits `y = requantize(x, ey - ex)` into a tensor of type `dtype` and returns y.
fn requantize(
    lowering: &mut Lowering,
    node: &Node,
    output: &str,
    x: TensorId,
    exponent: i32,
    dtype: QType,
) -> TensorId {
    let tensor = lowering.tensor(x).clone();
    let y = lowering.new_typed_tensor(output, tensor.shape.clone(), exponent, None, dtype);
    let kernel = Requantize {
        len: tensor.len(),
        shift: exponent - tensor.exponent,
        input_magnitude: tensor.dtype.magnitude(),
        clamp: Clamp::none(dtype),
    };
    lowering.push_layer(node, &node.op_type, vec![x], y, Box::new(kernel));
    y
}

/// A copy of `x` into storage of its own (for graph outputs that share bytes).
pub fn copy_layer(lowering: &mut Lowering, name: &str, x: TensorId) -> TensorId {
    let tensor = lowering.tensor(x).clone();
    let y = lowering.new_typed_tensor(
        name,
        tensor.shape.clone(),
        tensor.exponent,
        None,
        tensor.dtype,
    );
    let kernel = Requantize {
        len: tensor.len(),
        shift: 0,
        input_magnitude: tensor.dtype.magnitude(),
        clamp: Clamp::none(tensor.dtype),
    };
    let node = crate::onnx::Node {
        name: name.to_string(),
        op_type: "Copy".into(),
        domain: String::new(),
        inputs: vec![tensor.name.clone()],
        outputs: vec![name.to_string()],
        attributes: Default::default(),
    };
    lowering.push_layer(&node, "Copy", vec![x], y, Box::new(kernel));
    y
}

/// A quantized tensor waiting for its output exponent (Relu/Clip of an activation): the
/// QuantizeLinear after it requantizes and clamps in the output domain, which is exact, where
/// clamping first at the input exponent would round the bounds twice.
pub fn requantize_pending(x: TensorId, shape: Vec<usize>) -> Rc<dyn crate::lower::Pending> {
    Rc::new(RequantizePending { x, shape })
}

#[derive(Debug)]
struct RequantizePending {
    x: TensorId,
    shape: Vec<usize>,
}

impl crate::lower::Pending for RequantizePending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn exact_source(&self) -> Option<TensorId> {
        Some(self.x)
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let input = lowering.tensor(self.x);
        let kernel = Requantize {
            len: self.shape.iter().product(),
            shift: output_exponent - input.exponent,
            input_magnitude: input.dtype.magnitude(),
            clamp,
        };
        Ok((Box::new(kernel), vec![self.x]))
    }
}

#[derive(Debug)]
struct Requantize {
    len: usize,
    shift: i32,
    /// The largest `|x|` of the input's type: the "accumulator" bound of a plain shift.
    input_magnitude: u64,
    clamp: Clamp,
}

impl Kernel for Requantize {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Requantize)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("len", self.len);
        out.set("shift", self.shift);
        // The value is the input itself: its magnitude bounds it, which picks the cheapest
        // rounding helper (`requantize`) and fuses the clamp into it.
        let accumulator = Accumulator {
            bound: self.input_magnitude,
            wide: false,
            floor_shift: false,
            f32_sum: false,
        };
        accumulator.set(out, self.clamp, &[self.shift]);
        out.describe(format!("shift {}", self.shift));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }

    fn supports_int16(&self) -> bool {
        true
    }

    fn pointwise(&self) -> bool {
        true
    }
}
