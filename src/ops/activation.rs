//! Relu and Clip. After a compute op they fuse into its requantization as a clamp in the
//! output domain; on an already quantized tensor they are a standalone clamp.

use super::{Kernel, RealBounds};
use crate::emit::KernelEmit;
use crate::error::{Error, Result};
use crate::onnx::Node;
use crate::quant::{Lowering, Value};

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let bounds = bounds(lowering, node)?;
    let output = super::single_output(node)?;
    match lowering.value(node, 0)?.clone() {
        Value::Pending(mut pending) => {
            pending.bounds = pending.bounds.and(bounds);
            pending.ops = format!("{}+{}", pending.ops, node.op_type);
            lowering.define(output, Value::Pending(pending));
        }
        Value::Quant(x) => {
            let tensor = lowering.tensor(x).clone();
            let clamp = bounds.to_int8(tensor.exponent);
            let y = lowering.new_tensor(output, tensor.shape.clone(), tensor.exponent, None);
            let kernel = ClampKernel {
                len: tensor.len(),
                lo: clamp.lo,
                hi: clamp.hi,
            };
            lowering.push_layer(&node.name, &node.op_type, vec![x], y, Box::new(kernel));
            lowering.define(output, Value::Quant(y));
        }
        other => {
            return Err(Error::node(
                node,
                format!(
                    "input must be a quantized activation or a Conv/Gemm result, found {}",
                    crate::quant::lower::describe(&other)
                ),
            ))
        }
    }
    Ok(())
}

/// The real-valued bounds of Relu or Clip (attributes before opset 11, inputs after).
fn bounds(lowering: &Lowering, node: &Node) -> Result<RealBounds> {
    if node.op_type == "Relu" {
        return Ok(RealBounds {
            lo: Some(0.0),
            hi: None,
        });
    }
    let bound = |index: usize, attr: &str, default: f32| -> Result<Option<f64>> {
        if lowering.graph.opset < 11 {
            let v = node.attr_float(attr, default)?;
            return Ok(v.is_finite().then_some(v as f64));
        }
        if !lowering.has_input(node, index) {
            return Ok(None);
        }
        // ESP-PPQ gives the bounds as DequantizeLinear of integers; others as floats.
        let value = match lowering.value(node, index)? {
            Value::Const(c) => c.single(),
            Value::QuantConst(q) if q.values.len() == 1 => {
                Some(q.values[0] as f64 * 2f64.powi(q.exponent))
            }
            _ => None,
        };
        value
            .map(Some)
            .ok_or_else(|| Error::node(node, format!("Clip {attr} must be a scalar constant")))
    };
    Ok(RealBounds {
        lo: bound(1, "min", f32::MIN)?,
        hi: bound(2, "max", f32::MAX)?,
    })
}

#[derive(Debug)]
struct ClampKernel {
    len: usize,
    lo: i8,
    hi: i8,
}

impl Kernel for ClampKernel {
    fn template(&self) -> &'static str {
        "clamp.rs.tera"
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("len", self.len);
        out.set("clamp_lo", self.lo);
        out.set("clamp_hi", self.hi);
        out.describe(format!("clamp to [{}, {}]", self.lo, self.hi));
        Ok(())
    }
}
