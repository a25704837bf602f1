//! What the scale pass did to each quantized tensor, and why `--scales exact` refused a model.
//! Plain data with `serde::Serialize`, so that a table or JSON view (`inspect`) is a rendering
//! of it and nothing more.

pub use crate::error::{ScaleIssue, ScaleProblem};
use serde::Serialize;

/// What a quantized tensor is to the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Quantized at run time by a QuantizeLinear (and read back by its DequantizeLinear).
    Activation,
    /// An int8/uint8 constant read through DequantizeLinear.
    Weight,
    /// An int32 constant read through DequantizeLinear (the bias of Conv/Gemm, or an Add operand).
    Bias,
}

/// One thing the pass changed about a tensor; a tensor with none was already exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// uint8 with zero point 128 became int8 holding `q - 128`: the same real values.
    Uint8ToInt8,
    /// A scale that is not a power of two became one (constants requantized from their real
    /// values; a bias at the snapped `ex + ew` of its layer).
    Snapped,
    /// A nonzero zero point: the tensor became symmetric int8 at a power-of-two exponent whose
    /// grid covers the original real range; activations are clipped to that range.
    AsymmetricToSymmetric,
}

/// One quantized tensor: how the model quantized it and what it became.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorReport {
    /// The integer tensor (QuantizeLinear output, DequantizeLinear input).
    pub tensor: String,
    /// The QuantizeLinear/DequantizeLinear nodes that use these parameters, in graph order.
    pub nodes: Vec<String>,
    pub role: Role,
    /// The original element type (`int8`, `uint8`, `int32`).
    pub dtype: String,
    /// ONNX order; `None` for an activation whose shape the model does not declare.
    pub shape: Option<Vec<usize>>,
    /// The original scales and zero points: one each, or one per channel.
    pub scales: Vec<f64>,
    pub zero_points: Vec<i64>,
    /// The exponents chosen, one per scale (per output channel for a per-channel bias).
    pub exponents: Vec<i32>,
    /// `(2^e - scale) / scale` per exponent: negative when the step got finer.
    pub relative_errors: Vec<f64>,
    /// The share of values that saturate at the new exponent: computed from the real values
    /// for constants, `None` (unknown before running the model) for activations.
    pub saturated: Option<f64>,
    pub changes: Vec<Change>,
    /// The real range an asymmetric activation is clipped to, which its original grid
    /// enforced by saturation (a ReLU folded into a uint8 zero point, for example).
    pub clip: Option<(f64, f64)>,
}

impl TensorReport {
    /// The largest `|relative error|` over the tensor's scales.
    pub fn max_relative_error(&self) -> f64 {
        self.relative_errors
            .iter()
            .fold(0.0, |worst, e| worst.max(e.abs()))
    }
}

/// Every quantized tensor of a model, in graph order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScaleReport {
    pub tensors: Vec<TensorReport>,
}

impl ScaleReport {
    /// The tensors the pass changed.
    pub fn changed(&self) -> impl Iterator<Item = &TensorReport> {
        self.tensors.iter().filter(|t| !t.changes.is_empty())
    }
}
