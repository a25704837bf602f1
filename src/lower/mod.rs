//! Lowering: the float QDQ graph becomes the integer IR, in which every tensor has an
//! exponent and every layer a kernel. Each operator lives in one file under [`ops`], with its
//! shape rule, its lowering from ONNX nodes and its kernel; [`registry`] maps op types to
//! them.
//!
//! The walk gives every ONNX tensor a [`Value`] that says what its float contents are in
//! integer terms:
//!
//! - `DequantizeLinear` output (and exponent-preserving ops applied to it): exactly `q * 2^e`
//!   of an int8 tensor, i.e. [`Value::Quant`].
//! - A compute op (Conv, Gemm, Add, pools) over such tensors: an exact integer computation
//!   whose rounding is fixed only by the `QuantizeLinear` that follows, i.e. [`Value::Pending`].
//!   Relu/Clip on a pending value fuse into it; the `QuantizeLinear` turns it into a layer.

pub mod bias;
mod helpers;
mod ops;
pub mod registry;
pub mod size;

pub use helpers::{define_pending, index_term, nonempty_input, real_constant};
pub use ops::copy_layer;
pub use registry::{is_builtin, operator_table_markdown, supported_ops, Operator, OPERATORS};
pub use size::{checked_len, checked_table};

use crate::error::{Error, Result};
use crate::ir::{Layer, Port, QGraph, QTensor, QType, TensorId};
use crate::kernel::{Clamp, Kernel, RealBounds, UserTemplates};
use crate::onnx::{Constant, DType, Graph, Node};
use crate::options::Budget;
use crate::quant::exponent::exact_exponent;
use crate::quant::Rounding;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What an ONNX tensor is, in integer terms.
#[derive(Debug, Clone)]
pub enum Value {
    /// A float graph input that no QuantizeLinear has consumed yet.
    FloatInput,
    /// Exactly `q * 2^e` of an int8 tensor of the IR.
    Quant(TensorId),
    /// A constant (initializer or folded).
    Const(Constant),
    /// `DequantizeLinear` of a constant: integer values at an exponent (weights, biases).
    QuantConst(Rc<QuantConst>),
    /// `DequantizeLinear` of a constant with a 1-D scale: one exponent per slice along an
    /// axis (per-channel weights and biases). Only weight and bias inputs accept it.
    ChannelConst(Rc<Weights>),
    /// An integer computation waiting for its output exponent.
    Pending(PendingValue),
}

/// Integer constant values at a power-of-two exponent.
#[derive(Debug, Clone)]
pub struct QuantConst {
    /// The ONNX name of the integer tensor, for messages.
    pub name: String,
    pub dtype: DType,
    pub dims: Vec<usize>,
    pub values: Vec<i64>,
    pub exponent: i32,
}

/// The constant weights (or bias) of an accumulating layer: integer values with one exponent
/// for the whole tensor, or one per slice along `axis` (per-channel quantization).
#[derive(Debug, Clone)]
pub struct Weights {
    /// The ONNX name of the integer tensor, for messages.
    pub name: String,
    pub dims: Vec<usize>,
    pub values: Vec<i64>,
    /// `None`: `exponents` holds the tensor's one exponent.
    pub axis: Option<usize>,
    pub exponents: Vec<i32>,
}

impl Weights {
    pub fn per_tensor(constant: &QuantConst) -> Weights {
        Weights {
            name: constant.name.clone(),
            dims: constant.dims.clone(),
            values: constant.values.clone(),
            axis: None,
            exponents: vec![constant.exponent],
        }
    }

    /// The accumulator exponent `ex + ew[c]` of each of `channels` output channels, where
    /// output channel `c` reads slice `c % n` of the `n` slices along weight axis `axis`
    /// (`n < channels` for ConvTranspose with groups, whose weight axis 1 holds the channels
    /// of one group). Per-channel exponents along any other axis are an error naming the
    /// tensor.
    pub fn accumulator_exponents(
        &self,
        node: &Node,
        axis: usize,
        channels: usize,
        input_exponent: i32,
    ) -> Result<Vec<i32>> {
        match self.axis {
            None => Ok(vec![input_exponent + self.exponents[0]; channels]),
            Some(a) if a == axis && !self.exponents.is_empty() => Ok((0..channels)
                .map(|c| input_exponent + self.exponents[c % self.exponents.len()])
                .collect()),
            Some(a) => Err(Error::node(
                node,
                format!(
                    "weight '{}' is quantized per channel along axis {a}, but this layer's output channels are weight axis {axis}; only per-output-channel exponents can be requantized per channel",
                    self.name
                ),
            )),
        }
    }

    /// The same weights scaled by `2^by` (Gemm's power-of-two alpha and beta).
    pub fn scaled(&self, by: i32) -> Weights {
        Weights {
            exponents: self.exponents.iter().map(|e| e + by).collect(),
            ..self.clone()
        }
    }
}

/// An integer computation whose float result still waits for the QuantizeLinear that fixes
/// its output exponent (the `op → QuantizeLinear` half of a QDQ pattern).
pub trait Pending: std::fmt::Debug {
    fn output_shape(&self) -> &[usize];
    /// Builds the kernel once the output exponent and the fused clamp (in the output's
    /// integer domain) are known. Returns the kernel and its input tensors.
    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)>;
    /// A unary table op's input and real function, so that `x * f(x)` (Swish) can become one
    /// table; `None` for everything else.
    fn unary_function(&self) -> Option<(TensorId, ops::RealFunction)> {
        None
    }
    /// The activation whose values this computation keeps, unrounded (Relu/Clip of an
    /// activation): it can then be materialized at that tensor's exponent and type when an op
    /// needs an activation before any QuantizeLinear (ONNX Runtime's QOperator models run
    /// MaxPool on the float Relu output). `None` for everything that rounds.
    fn exact_source(&self) -> Option<TensorId> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct PendingValue {
    pub compute: Rc<dyn Pending>,
    /// Relu/Clip bounds fused so far.
    pub bounds: RealBounds,
    /// The first node of the fused chain, and the chain's op types.
    pub node: Node,
    pub ops: String,
}

pub struct Lowering<'g> {
    pub graph: &'g Graph,
    /// User templates: custom layers are the ops they implement, and they override built-in
    /// kernels.
    pub templates: &'g UserTemplates,
    /// How every rounding step of the pipeline breaks ties.
    pub rounding: Rounding,
    /// Every activation must fit the RAM budget and every table the flash budget: checked
    /// the moment a shape is known ([`checked_len`]).
    pub budget: Budget,
    values: BTreeMap<String, Value>,
    tensors: Vec<QTensor>,
    layers: Vec<Layer>,
    inputs: Vec<Port>,
    /// Model state handed out so far (recurrent layers), for [`Lowering::new_state_id`].
    states: usize,
}

/// Lowers a loaded graph into the quantized IR, within the default budget.
pub fn lower(graph: &Graph, templates: &UserTemplates, rounding: Rounding) -> Result<QGraph> {
    lower_within(graph, templates, rounding, Budget::default())
}

/// Lowers a loaded graph into the quantized IR; a tensor over `budget` is an error naming
/// its node before anything of its size is built.
pub fn lower_within(
    graph: &Graph,
    templates: &UserTemplates,
    rounding: Rounding,
    budget: Budget,
) -> Result<QGraph> {
    registry::check_implemented(graph, templates)?;
    let mut lowering = Lowering {
        graph,
        templates,
        rounding,
        budget,
        values: BTreeMap::new(),
        tensors: Vec::new(),
        layers: Vec::new(),
        inputs: Vec::new(),
        states: 0,
    };
    for (name, constant) in &graph.constants {
        lowering.define(name, Value::Const(constant.clone()));
    }
    for input in &graph.inputs {
        if !input.dtype.is_float() {
            return Err(Error::tensor(
                &input.name,
                format!(
                    "graph input of type {:?}: onnx2esp expects a float input followed by QuantizeLinear",
                    input.dtype
                ),
            ));
        }
        lowering.define(&input.name, Value::FloatInput);
    }
    // Every node that cannot be lowered is reported, not just the first; nodes that depend on
    // a failed one are skipped, since their errors would only echo it.
    let mut errors = Vec::new();
    let mut failed: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for node in &graph.nodes {
        let upstream_failed = node.inputs.iter().any(|i| failed.contains(i.as_str()));
        if upstream_failed
            || registry::lower_node(&mut lowering, node)
                .map_err(|e| errors.push(e))
                .is_err()
        {
            failed.extend(node.outputs.iter().map(String::as_str));
        }
    }
    match errors.len() {
        0 => lowering.finish(),
        1 => Err(errors.remove(0)),
        n => Err(Error::Model(format!(
            "{n} nodes cannot be lowered:\n{}",
            errors
                .iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}

impl<'g> Lowering<'g> {
    /// How an accumulating layer of `node` ends: its output exponent, its clamp, the rounding,
    /// and whether a user template renders it (which decides how a float bias may round).
    pub fn layer_output(&self, node: &Node, exponent: i32, clamp: Clamp) -> bias::LayerOutput {
        bias::LayerOutput {
            exponent,
            clamp,
            rounding: self.rounding,
            user_template: self.templates.get(&node.domain, &node.op_type).is_some(),
        }
    }

    /// How an accumulating layer of `node` requantizes: its bias at the accumulator
    /// exponents, its proven accumulator, and its shifts. `weights` are the layer's constant
    /// weights with their exponents along `weight_axis` (the axis of its `channels` output
    /// channels); `stored` the int8 values as the kernel stores them, one row per channel.
    #[allow(clippy::too_many_arguments)]
    pub fn requantization(
        &self,
        node: &Node,
        input: TensorId,
        weights: &Weights,
        (weight_axis, channels): (usize, usize),
        stored: &[i8],
        bias: Option<&bias::Bias>,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(
        Vec<i32>,
        crate::quant::accumulator::Accumulator,
        crate::kernel::Shifts,
    )> {
        let x = self.tensor(input);
        let acc_exponents =
            weights.accumulator_exponents(node, weight_axis, channels, x.exponent)?;
        let (bias, accumulator, fractions) = bias::checked_bias(
            node,
            bias,
            stored,
            &acc_exponents,
            x.dtype.magnitude(),
            self.layer_output(node, output_exponent, clamp),
        )?;
        let shifts = crate::kernel::Shifts::new(output_exponent, &acc_exponents)
            .with_f32_sum_fractions(fractions);
        Ok((bias, accumulator, shifts))
    }

    pub fn define(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_string(), value);
    }

    /// The value of input `index` of `node`; a missing input is an error naming both.
    pub fn value(&self, node: &Node, index: usize) -> Result<&Value> {
        let name = self.input_name(node, index)?;
        self.values
            .get(name)
            .ok_or_else(|| Error::node(node, format!("input '{name}' has no value")))
    }

    pub fn input_name<'n>(&self, node: &'n Node, index: usize) -> Result<&'n str> {
        node.inputs
            .get(index)
            .filter(|n| !n.is_empty())
            .map(String::as_str)
            .ok_or_else(|| Error::node(node, format!("input {index} is missing")))
    }

    pub fn has_input(&self, node: &Node, index: usize) -> bool {
        node.inputs.get(index).is_some_and(|n| !n.is_empty())
    }

    /// Input `index` as an activation tensor. A Relu/Clip of an activation whose bounds lie on
    /// its grid is materialized at its exponent first: exact, and what an op on the float
    /// result computes.
    pub fn quant_input(&mut self, node: &Node, index: usize) -> Result<TensorId> {
        if let Value::Pending(pending) = self.value(node, index)?.clone() {
            if let Some(source) = pending.compute.exact_source() {
                let (exponent, dtype) = (self.tensors[source].exponent, self.tensors[source].dtype);
                let on_grid = |bound: Option<f64>| {
                    bound.is_none_or(|b| {
                        crate::quant::quantize_real_to(b, exponent, dtype, self.rounding) as f64
                            * 2f64.powi(exponent)
                            == b
                    })
                };
                if on_grid(pending.bounds.lo) && on_grid(pending.bounds.hi) {
                    let clamp = pending.bounds.to_domain(exponent, dtype, self.rounding);
                    let shape = pending.compute.output_shape().to_vec();
                    let (kernel, inputs) = pending.compute.finish(self, exponent, clamp)?;
                    let name = self.input_name(node, index)?.to_string();
                    let y = self.new_typed_tensor(&name, shape, exponent, None, dtype);
                    self.push_layer(&pending.node, &pending.ops, inputs, y, kernel);
                    self.define(&name, Value::Quant(y));
                }
            }
        }
        match self.value(node, index)? {
            Value::Quant(t) => Ok(*t),
            other => Err(Error::node(
                node,
                format!(
                    "input '{}' must be a quantized activation (DequantizeLinear output), found {}",
                    node.inputs[index],
                    describe(other)
                ),
            )),
        }
    }

    /// Input `index` as dequantized integer constants (weights, biases).
    pub fn quant_const(&self, node: &Node, index: usize) -> Result<Rc<QuantConst>> {
        match self.value(node, index)? {
            Value::QuantConst(c) => Ok(c.clone()),
            other => Err(Error::node(
                node,
                format!(
                    "input '{}' must be a quantized constant (DequantizeLinear of an initializer), found {}",
                    node.inputs[index],
                    describe(other)
                ),
            )),
        }
    }

    /// Input `index` as the constant weights of an accumulating layer, per tensor or per
    /// channel.
    pub fn weights(&self, node: &Node, index: usize) -> Result<Rc<Weights>> {
        match self.value(node, index)? {
            Value::ChannelConst(w) => Ok(w.clone()),
            _ => Ok(Rc::new(Weights::per_tensor(
                &*self.quant_const(node, index)?,
            ))),
        }
    }

    /// Input `index` as a constant, or `None` when the input is absent.
    pub fn constant(&self, node: &Node, index: usize) -> Result<Option<&Constant>> {
        if !self.has_input(node, index) {
            return Ok(None);
        }
        match self.value(node, index)? {
            Value::Const(c) => Ok(Some(c)),
            other => Err(Error::node(
                node,
                format!(
                    "input '{}' must be a constant, found {}",
                    node.inputs[index],
                    describe(other)
                ),
            )),
        }
    }

    pub fn tensor(&self, id: TensorId) -> &QTensor {
        &self.tensors[id]
    }

    /// A new int8 tensor; an alias has its parent's type.
    pub fn new_tensor(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        exponent: i32,
        alias_of: Option<TensorId>,
    ) -> TensorId {
        let dtype = alias_of.map_or(QType::I8, |parent| self.tensors[parent].dtype);
        self.new_typed_tensor(name, shape, exponent, alias_of, dtype)
    }

    pub fn new_typed_tensor(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        exponent: i32,
        alias_of: Option<TensorId>,
        dtype: QType,
    ) -> TensorId {
        self.tensors.push(QTensor {
            name: name.to_string(),
            shape,
            exponent,
            dtype,
            alias_of,
        });
        self.tensors.len() - 1
    }

    pub fn push_layer(
        &mut self,
        node: &Node,
        ops: &str,
        inputs: Vec<TensorId>,
        output: TensorId,
        kernel: Box<dyn Kernel>,
    ) {
        // The renderer is decided here, once: a user template for the node's op overrides
        // the kernel's own.
        let renderer = self
            .templates
            .renderer(&node.domain, &node.op_type, kernel.as_ref());
        self.layers.push(Layer {
            node: node.clone(),
            ops: ops.to_string(),
            inputs,
            output,
            kernel,
            renderer,
        });
    }

    /// A new model state's id (a field of `Model`, see [`crate::kernel::StateUse`]).
    pub fn new_state_id(&mut self) -> usize {
        self.states += 1;
        self.states - 1
    }

    pub fn add_input_port(&mut self, name: &str, tensor: TensorId) {
        self.inputs.push(Port {
            name: name.to_string(),
            tensor,
        });
    }

    pub fn input_port(&self, name: &str) -> Option<TensorId> {
        self.inputs
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.tensor)
    }

    /// The exponent of a (scale, zero point) pair. `tensor` is the quantized tensor the pair
    /// belongs to; errors name it and the node.
    pub fn exponent(
        &self,
        node: &Node,
        tensor: &str,
        scale: &Constant,
        zero_point: Option<&Constant>,
    ) -> Result<i32> {
        let Some(scale_value) = scale.single() else {
            return Err(Error::node(
                node,
                format!(
                    "tensor '{tensor}' has {} scales (per-channel quantization); only the constant weights and biases of Conv, ConvTranspose, Gemm and MatMul may be per channel",
                    scale.len()
                ),
            ));
        };
        self.scale_exponent(node, tensor, scale_value, zero_point)
    }

    /// The exponent of each entry of a 1-D scale (per-channel quantization), with the checks
    /// of [`Lowering::exponent`].
    pub fn channel_exponents(
        &self,
        node: &Node,
        tensor: &str,
        scale: &Constant,
        zero_point: Option<&Constant>,
    ) -> Result<Vec<i32>> {
        scale
            .values
            .iter()
            .map(|&s| self.scale_exponent(node, tensor, s, zero_point))
            .collect()
    }

    fn scale_exponent(
        &self,
        node: &Node,
        tensor: &str,
        scale_value: f64,
        zero_point: Option<&Constant>,
    ) -> Result<i32> {
        if let Some(zp) = zero_point.and_then(|z| z.values.iter().find(|&&v| v != 0.0)) {
            return Err(Error::ZeroPoint {
                tensor: tensor.to_string(),
                node: node.name.clone(),
                zero_point: *zp as i64,
            });
        }
        let exponent = exact_exponent(scale_value).map_err(|e| Error::NotPowerOfTwo {
            tensor: tensor.to_string(),
            node: node.name.clone(),
            scale: scale_value,
            nearest: e.nearest,
            nearest_scale: 2f64.powi(e.nearest),
            relative_error: e.relative_error,
        })?;
        // predict() scales by 2^e in f32, which must stay a normal number.
        if !(-126..=126).contains(&exponent) {
            return Err(Error::node(
                node,
                format!(
                    "tensor '{tensor}': exponent {exponent} is outside the f32 range -126..=126"
                ),
            ));
        }
        Ok(exponent)
    }

    fn finish(mut self) -> Result<QGraph> {
        let mut outputs = Vec::new();
        for output in &self.graph.outputs {
            let tensor = match self.values.get(&output.name) {
                Some(Value::Quant(t)) => *t,
                Some(other) => {
                    return Err(Error::tensor(
                        &output.name,
                        format!(
                            "graph output must be a dequantized int8 tensor (QuantizeLinear → DequantizeLinear), found {}",
                            describe(other)
                        ),
                    ))
                }
                None => return Err(Error::tensor(&output.name, "graph output has no value")),
            };
            // An output needs storage of its own: copy when it shares bytes with an input or
            // with an earlier output.
            let root = self.storage_root(tensor);
            let shared = self
                .inputs
                .iter()
                .any(|p| self.storage_root(p.tensor) == root)
                || outputs
                    .iter()
                    .any(|p: &Port| self.storage_root(p.tensor) == root);
            let tensor = if shared {
                ops::copy_layer(&mut self, &output.name, tensor)
            } else {
                tensor
            };
            outputs.push(Port {
                name: output.name.clone(),
                tensor,
            });
        }
        if self.inputs.len() != self.graph.inputs.len() {
            let missing: Vec<_> = self
                .graph
                .inputs
                .iter()
                .filter(|i| self.input_port(&i.name).is_none())
                .map(|i| i.name.as_str())
                .collect();
            return Err(Error::Model(format!(
                "graph inputs {missing:?} are never quantized (no QuantizeLinear consumes them)"
            )));
        }
        let graph = QGraph {
            tensors: self.tensors,
            layers: self.layers,
            inputs: self.inputs,
            outputs,
            rounding: self.rounding,
        };
        graph.validate()?;
        Ok(graph)
    }

    fn storage_root(&self, mut id: TensorId) -> TensorId {
        while let Some(parent) = self.tensors[id].alias_of {
            id = parent;
        }
        id
    }
}

/// A short description of a value, for messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::FloatInput => "a float graph input that is not quantized yet: onnx2esp runs the quantized core only, so do this step in your own code before `predict` and remove it from the model, or quantize the input before this node (QuantizeLinear -> DequantizeLinear)".into(),
        Value::Quant(_) => "a quantized activation".into(),
        Value::Const(c) => format!("a {:?} constant of shape {:?}", c.dtype, c.dims),
        Value::QuantConst(_) => "a quantized constant".into(),
        Value::ChannelConst(w) => format!(
            "the per-channel quantized constant '{}' (one exponent per slice along axis {}), which only Conv, ConvTranspose, Gemm and MatMul weights and their biases accept",
            w.name,
            w.axis.unwrap_or(0)
        ),
        Value::Pending(p) => format!(
            "the float result of '{}' ({}), which must first go through QuantizeLinear",
            p.node.name, p.ops
        ),
    }
}
