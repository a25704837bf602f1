//! The quantized IR: what the lowering produces and the planner and emitter consume.
//! Every tensor is int8 (or int16 where the model asks) with a per-tensor power-of-two
//! exponent; every layer is a kernel whose sizes, shifts and weights are known.

use crate::error::{Error, Result};
use crate::kernel::{Kernel, Renderer};
use crate::onnx::Node;
pub use crate::quant::QType;

pub type TensorId = usize;

/// An integer tensor: `real = q * 2^exponent`.
#[derive(Debug, Clone)]
pub struct QTensor {
    /// The ONNX tensor name this value came from (for comments and I/O item names).
    pub name: String,
    /// Shape in ONNX order.
    pub shape: Vec<usize>,
    pub exponent: i32,
    pub dtype: QType,
    /// Reshape-like ops reuse their input's storage: the tensor whose bytes these are.
    pub alias_of: Option<TensorId>,
}

impl QTensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.len() * self.dtype.bytes()
    }
}

/// One generated function: a kernel with its inputs and its output.
#[derive(Debug)]
pub struct Layer {
    /// The ONNX node the layer comes from (the first, when several are fused).
    pub node: Node,
    /// The ONNX op types it implements, e.g. `Conv+Relu`.
    pub ops: String,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
    pub kernel: Box<dyn Kernel>,
    /// The template that renders it, decided at lowering.
    pub renderer: Renderer,
}

/// A model input or output.
#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    pub tensor: TensorId,
}

#[derive(Debug)]
pub struct QGraph {
    pub tensors: Vec<QTensor>,
    pub layers: Vec<Layer>,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
    /// The rounding mode the module's runtime helpers use (`ROUND_HALF_UP`).
    pub rounding: crate::quant::Rounding,
}

impl QGraph {
    /// The tensor that owns the storage of `id` (follows aliases).
    pub fn storage_root(&self, mut id: TensorId) -> TensorId {
        while let Some(parent) = self.tensors[id].alias_of {
            id = parent;
        }
        id
    }

    /// Checks invariants that the emitter relies on, so that a lowering bug surfaces here and
    /// not as wrong code.
    pub fn validate(&self) -> Result<()> {
        for tensor in &self.tensors {
            if tensor.is_empty() {
                return Err(Error::tensor(
                    &tensor.name,
                    format!("shape {:?} has no elements", tensor.shape),
                ));
            }
        }
        for layer in &self.layers {
            let wide = layer
                .inputs
                .iter()
                .chain([&layer.output])
                .find(|&&t| self.tensors[t].dtype != QType::I8);
            if let Some(&t) = wide {
                if !layer.kernel.supports_int16() {
                    return Err(Error::node(
                        &layer.node,
                        format!(
                            "tensor '{}' is int16, which {} does not support (int16 works in every built-in op except linear Resize; custom layers are int8)",
                            self.tensors[t].name, layer.ops
                        ),
                    ));
                }
            }
            let out = &self.tensors[layer.output];
            if out.alias_of.is_some() {
                return Err(Error::Internal(format!(
                    "layer '{}' writes into an alias",
                    layer.node.name
                )));
            }
        }
        Ok(())
    }
}
