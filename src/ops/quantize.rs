//! QuantizeLinear and DequantizeLinear: where float tensors acquire exponents.
//! - Q of a graph input quantizes the model input (`predict`).
//! - Q of a pending computation emits it as a layer with this output exponent.
//! - Q of a quantized tensor at another exponent is a requantize layer.
//! - DQ is a reinterpretation: the int8 tensor, now seen as float, or integer constants.

use super::{Clamp, Kernel};
use crate::emit::KernelEmit;
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::onnx::{DType, Node};
use crate::quant::lower::describe;
use crate::quant::{Lowering, QuantConst, Value};
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
    let output = super::single_output(node)?;
    let (scale, zero_point) = scale_and_zero_point(lowering, node)?;
    let dtype = crate::onnx::quantized_dtype(node, zero_point)?;
    if dtype != DType::I8 {
        return Err(Error::node(
            node,
            format!("quantizes '{output}' to {dtype:?}; only int8 is supported so far"),
        ));
    }
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
                Some(t) if lowering.tensor(t).exponent == exponent => t,
                Some(t) => {
                    return Err(Error::node(
                        node,
                        format!(
                            "graph input '{input_name}' is already quantized at 2^{}; a second exponent 2^{exponent} is not supported",
                            lowering.tensor(t).exponent
                        ),
                    ))
                }
                None => {
                    let t = lowering.new_tensor(&input_name, shape, exponent, None);
                    lowering.add_input_port(&input_name, t);
                    t
                }
            };
            Value::Quant(tensor)
        }
        Value::Quant(x) if lowering.tensor(x).exponent == exponent => Value::Quant(x),
        Value::Quant(x) => {
            let y = requantize(lowering, node, output, x, exponent);
            Value::Quant(y)
        }
        Value::Pending(pending) => {
            let clamp = pending.bounds.to_int8(exponent, lowering.rounding);
            let shape = pending.compute.output_shape().to_vec();
            let (kernel, inputs) = pending.compute.finish(lowering, exponent, clamp)?;
            let y = lowering.new_tensor(output, shape, exponent, None);
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
    let output = super::single_output(node)?;
    let input_name = lowering.input_name(node, 0)?.to_string();
    let (scale, zero_point) = scale_and_zero_point(lowering, node)?;
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

/// Emits `y = requantize(x, ey - ex)` and returns y.
fn requantize(
    lowering: &mut Lowering,
    node: &Node,
    output: &str,
    x: TensorId,
    exponent: i32,
) -> TensorId {
    let tensor = lowering.tensor(x).clone();
    let y = lowering.new_tensor(output, tensor.shape.clone(), exponent, None);
    let kernel = Requantize {
        len: tensor.len(),
        shift: exponent - tensor.exponent,
        clamp: Clamp::NONE,
    };
    lowering.push_layer(node, &node.op_type, vec![x], y, Box::new(kernel));
    y
}

/// A copy of `x` into storage of its own (for graph outputs that share bytes).
pub fn copy_layer(lowering: &mut Lowering, name: &str, x: TensorId) -> TensorId {
    let tensor = lowering.tensor(x).clone();
    let y = lowering.new_tensor(name, tensor.shape.clone(), tensor.exponent, None);
    let kernel = Requantize {
        len: tensor.len(),
        shift: 0,
        clamp: Clamp::NONE,
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
pub fn requantize_pending(x: TensorId, shape: Vec<usize>) -> Rc<dyn super::Pending> {
    Rc::new(RequantizePending { x, shape })
}

#[derive(Debug)]
struct RequantizePending {
    x: TensorId,
    shape: Vec<usize>,
}

impl super::Pending for RequantizePending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let kernel = Requantize {
            len: self.shape.iter().product(),
            shift: output_exponent - lowering.tensor(self.x).exponent,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.x]))
    }
}

#[derive(Debug)]
struct Requantize {
    len: usize,
    shift: i32,
    clamp: Clamp,
}

impl Kernel for Requantize {
    fn template(&self) -> &'static str {
        "requantize.rs.tera"
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("len", self.len);
        out.set("shift", self.shift);
        self.clamp.set(out);
        out.describe(format!("shift {}", self.shift));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }
}
