//! Relu and Clip. After a compute op they fuse into its requantization as a clamp in the
//! output domain. On a quantized tensor they wait for the QuantizeLinear after them too, and
//! become a requantization with that clamp: clamping at the input exponent first would round
//! the bounds twice when the exponents differ. A user template that does not declare that
//! it applies the clamp gets no fused Relu/Clip: the Relu/Clip stays a layer of its own.

use crate::error::{Error, Result};
use crate::kernel::RealBounds;
use crate::lower::PendingValue;
use crate::lower::{Lowering, Value};
use crate::onnx::Node;
use std::rc::Rc;

pub fn lower_relu(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let bounds = RealBounds {
        lo: Some(0.0),
        hi: None,
    };
    lower(lowering, node, bounds)
}

pub fn lower_clip(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let bounds = clip_bounds(lowering, node)?;
    lower(lowering, node, bounds)
}

/// Relu or Clip, by their real-valued bounds.
fn lower(lowering: &mut Lowering, node: &Node, bounds: RealBounds) -> Result<()> {
    let output = node.single_output()?;
    match lowering.value(node, 0)?.clone() {
        Value::Pending(pending)
            if !lowering
                .templates
                .fuses_clamp(&pending.node.domain, &pending.node.op_type) =>
        {
            lowering.define(
                output,
                Value::Pending(PendingValue {
                    compute: Rc::new(ClampAfter { inner: pending }),
                    bounds,
                    node: node.clone(),
                    ops: node.op_type.clone(),
                }),
            );
        }
        Value::Pending(mut pending) => {
            pending.bounds = pending.bounds.and(bounds);
            pending.ops = format!("{}+{}", pending.ops, node.op_type);
            lowering.define(output, Value::Pending(pending));
        }
        Value::Quant(x) => {
            let shape = lowering.tensor(x).shape.clone();
            lowering.define(
                output,
                Value::Pending(PendingValue {
                    compute: super::quantize::requantize_pending(x, shape),
                    bounds,
                    node: node.clone(),
                    ops: node.op_type.clone(),
                }),
            );
        }
        other => {
            return Err(Error::node(
                node,
                format!(
                    "input must be a quantized activation or a Conv/Gemm result, found {}",
                    crate::lower::describe(&other)
                ),
            ))
        }
    }
    Ok(())
}

/// A Relu/Clip after a computation that cannot take it fused: once the QuantizeLinear gives
/// the exponent, the computation becomes a layer at that exponent and the Relu/Clip a clamp
/// of its result, at the same exponent. Equal to the fused clamp, since rounding is monotone.
#[derive(Debug)]
struct ClampAfter {
    inner: PendingValue,
}

impl crate::lower::Pending for ClampAfter {
    fn output_shape(&self) -> &[usize] {
        self.inner.compute.output_shape()
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: crate::kernel::Clamp,
    ) -> Result<(Box<dyn crate::kernel::Kernel>, Vec<crate::ir::TensorId>)> {
        let inner = &self.inner;
        let dtype = clamp.dtype;
        let inner_clamp = inner
            .bounds
            .to_domain(output_exponent, dtype, lowering.rounding);
        let shape = inner.compute.output_shape().to_vec();
        let (kernel, inputs) = inner
            .compute
            .finish(lowering, output_exponent, inner_clamp)?;
        let name = inner.node.single_output()?.to_string();
        let y = lowering.new_typed_tensor(&name, shape.clone(), output_exponent, None, dtype);
        lowering.push_layer(&inner.node, &inner.ops, inputs, y, kernel);
        super::quantize::requantize_pending(y, shape).finish(lowering, output_exponent, clamp)
    }
}

/// The real-valued bounds of Clip (attributes before opset 11, inputs after).
fn clip_bounds(lowering: &Lowering, node: &Node) -> Result<RealBounds> {
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
