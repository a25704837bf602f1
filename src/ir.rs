//! The quantized IR: what the lowering produces and the planner and emitter consume.
//! Every tensor is int8 (or int16 where the model asks) with a per-tensor power-of-two
//! exponent; every layer is a kernel whose sizes, shifts and weights are known.

use crate::error::Result;
use crate::ops::Kernel;

pub type TensorId = usize;

/// The integer type of an activation tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QType {
    I8,
    I16,
}

impl QType {
    /// The Rust element type.
    pub fn rust(self) -> &'static str {
        match self {
            QType::I8 => "i8",
            QType::I16 => "i16",
        }
    }

    /// `int8` or `int16`, for comments and messages.
    pub fn name(self) -> &'static str {
        match self {
            QType::I8 => "int8",
            QType::I16 => "int16",
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            QType::I8 => 1,
            QType::I16 => 2,
        }
    }

    /// The largest `|q|`, the input range of accumulator bounds.
    pub fn magnitude(self) -> u64 {
        self.range().0.unsigned_abs()
    }

    /// The closed range of values, symmetric saturation as in ESP-DL.
    pub fn range(self) -> (i64, i64) {
        match self {
            QType::I8 => (-128, 127),
            QType::I16 => (-32768, 32767),
        }
    }
}

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
    pub node: crate::onnx::Node,
    /// The ONNX op types it implements, e.g. `Conv+Relu`.
    pub ops: String,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
    pub kernel: Box<dyn Kernel>,
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
                return Err(crate::Error::tensor(
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
                    return Err(crate::Error::node(
                        &layer.node,
                        format!(
                            "tensor '{}' is int16, which {} does not support yet (int16 works in Conv, Gemm, MatMul with constant weights, Relu/Clip, Reshape-like ops and QuantizeLinear between int8 and int16)",
                            self.tensors[t].name, layer.ops
                        ),
                    ));
                }
            }
            let out = &self.tensors[layer.output];
            if out.alias_of.is_some() {
                return Err(crate::Error::Model(format!(
                    "internal: layer '{}' writes into an alias",
                    layer.node.name
                )));
            }
        }
        Ok(())
    }
}
