//! Custom layers: a node with no built-in kernel but a user template. Its quantized inputs
//! become the layer's buffers, its constant inputs become statics (integers) or plain values
//! (floats) in the template context, and like every compute op it waits for the
//! QuantizeLinear that gives its output exponent.

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::describe;
use crate::lower::Pending;
use crate::lower::{Lowering, Value};
use crate::onnx::Node;
use serde::Serialize;
use std::rc::Rc;

/// A constant input of a custom node.
#[derive(Debug, Clone)]
struct ConstInput {
    /// Position among the node's inputs.
    index: usize,
    name: String,
    dims: Vec<usize>,
    values: Vec<f64>,
    /// Set for integer constants that went through DequantizeLinear.
    exponent: Option<i32>,
    integer: bool,
}

pub fn lower(lowering: &mut Lowering, node: &Node, template: &str) -> Result<()> {
    let mut tensors = Vec::new();
    let mut constants = Vec::new();
    for (index, name) in node.inputs.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        match lowering.value(node, index)? {
            Value::Quant(t) => tensors.push(*t),
            Value::QuantConst(q) => constants.push(ConstInput {
                index,
                name: name.clone(),
                dims: q.dims.clone(),
                values: q.values.iter().map(|&v| v as f64).collect(),
                exponent: Some(q.exponent),
                integer: true,
            }),
            Value::Const(c) => constants.push(ConstInput {
                index,
                name: name.clone(),
                dims: c.dims.clone(),
                values: c.values.clone(),
                exponent: None,
                integer: !c.dtype.is_float(),
            }),
            other => {
                return Err(Error::node(
                    node,
                    format!("input '{name}' is {}", describe(other)),
                ))
            }
        }
    }
    let Some(&first) = tensors.first() else {
        return Err(Error::node(
            node,
            "a custom layer needs at least one quantized activation input (a DequantizeLinear output)",
        ));
    };
    // The model's declared shape if it has one (set it in the exporter's symbolic function),
    // else the first input's: right for the elementwise and normalisation layers people write.
    let output = node.single_output()?;
    let shape = lowering
        .graph
        .declared_shapes
        .get(output)
        .cloned()
        .unwrap_or_else(|| lowering.tensor(first).shape.clone());
    let pending = CustomPending {
        template: template.to_string(),
        tensors,
        constants,
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

#[derive(Debug)]
struct CustomPending {
    template: String,
    tensors: Vec<TensorId>,
    constants: Vec<ConstInput>,
    shape: Vec<usize>,
}

impl Pending for CustomPending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        _lowering: &mut Lowering,
        _output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let kernel = CustomKernel {
            template: self.template.clone(),
            constants: self.constants.clone(),
            clamp,
        };
        Ok((Box::new(kernel), self.tensors.clone()))
    }
}

#[derive(Debug)]
struct CustomKernel {
    template: String,
    constants: Vec<ConstInput>,
    clamp: Clamp,
}

#[derive(Serialize)]
struct ConstantContext<'a> {
    index: usize,
    /// Escaped like every model string (`raw.node.inputs[index]` is the raw name).
    name: String,
    dims: &'a [usize],
    values: &'a [f64],
    exponent: Option<i32>,
    /// The `static` holding integer constants (`NAME.0` is the array), else null.
    r#static: Option<String>,
    dtype: &'static str,
}

impl Kernel for CustomKernel {
    fn renderer(&self) -> Renderer {
        Renderer::User(self.template.clone())
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let mut constants = Vec::new();
        for c in &self.constants {
            let fits_i8 = c.values.iter().all(|&v| (-128.0..=127.0).contains(&v));
            let (static_name, dtype) = if c.integer {
                let elem = if fits_i8 { Elem::I8 } else { Elem::I32 };
                let dims = if c.dims.is_empty() {
                    vec![1]
                } else {
                    c.dims.clone()
                };
                let name = out.add_static(
                    &format!("INPUT{}", c.index),
                    elem,
                    &dims,
                    c.values.iter().map(|&v| v as i64).collect(),
                );
                (Some(name), elem.rust())
            } else {
                (None, "f64")
            };
            constants.push(ConstantContext {
                index: c.index,
                name: crate::text::model_text(&c.name),
                dims: &c.dims,
                values: &c.values,
                exponent: c.exponent,
                r#static: static_name,
                dtype,
            });
        }
        out.set("constants", constants);
        self.clamp.set(out);
        out.describe(format!(
            "custom layer from template {}",
            Renderer::User(self.template.clone()).source_name()
        ));
        Ok(())
    }
}
