//! Operators. Each family lives in one file with its shape rule, its lowering from ONNX nodes
//! and its emit context; the kernel code itself is a template under `templates/`.

mod activation;
mod add;
mod conv;
mod custom;
mod dense;
mod layout;
mod pool;
mod quantize;
mod window;

use crate::emit::KernelEmit;
use crate::error::{Error, Result};
use crate::onnx::Node;
use crate::quant::Lowering;

/// A layer's code generator: fills the context of its template.
pub trait Kernel: std::fmt::Debug {
    /// The template under `templates/` that renders this kernel.
    fn template(&self) -> &'static str;
    /// Sets the template variables and registers weight statics.
    fn emit(&self, out: &mut KernelEmit) -> Result<()>;
    /// Multiply-accumulates per inference, for the header table.
    fn macs(&self) -> u64 {
        0
    }
    /// The requantization shift, for the header table.
    fn shift(&self) -> Option<i32> {
        None
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
    ) -> Result<(Box<dyn Kernel>, Vec<crate::ir::TensorId>)>;
}

/// Bounds fused from Relu/Clip, in real values; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RealBounds {
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl RealBounds {
    /// Intersects with another bound (Relu after Clip and so on).
    pub fn and(self, other: RealBounds) -> RealBounds {
        let pick = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        RealBounds {
            lo: pick(self.lo, other.lo, f64::max),
            hi: pick(self.hi, other.hi, f64::min),
        }
    }

    /// The bounds in the integer domain of exponent `e`. Quantization is monotone, so clamping
    /// after it equals clipping before it.
    pub fn to_int8(self, exponent: i32) -> Clamp {
        let q = |v: f64| {
            ((v as f32) / 2f32.powi(exponent))
                .round_ties_even()
                .clamp(-128.0, 127.0) as i8
        };
        Clamp {
            lo: self.lo.map_or(-128, q),
            hi: self.hi.map_or(127, q),
        }
    }
}

/// An int8 clamp; `-128..=127` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamp {
    pub lo: i8,
    pub hi: i8,
}

impl Clamp {
    pub const NONE: Clamp = Clamp { lo: -128, hi: 127 };

    pub fn is_none(self) -> bool {
        self == Clamp::NONE
    }

    /// Template variables `clamp_lo` / `clamp_hi`, absent when there is no clamp.
    pub fn set(self, out: &mut KernelEmit) {
        if !self.is_none() {
            out.set("clamp_lo", self.lo);
            out.set("clamp_hi", self.hi);
        }
    }
}

/// The ONNX ops with a built-in kernel (default domain).
pub const BUILTIN_OPS: &[&str] = &[
    "QuantizeLinear",
    "DequantizeLinear",
    "Conv",
    "Gemm",
    "MatMul",
    "Relu",
    "Clip",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Add",
    "Flatten",
    "Reshape",
    "Identity",
];

pub fn is_builtin(node: &Node) -> bool {
    (node.domain.is_empty() || node.domain == "ai.onnx")
        && BUILTIN_OPS.contains(&node.op_type.as_str())
}

/// Lowers one ONNX node into the IR (or into a pending value, a constant or an alias).
/// Ops without a built-in kernel are custom layers when the user has a template for them.
pub fn lower_node(lowering: &mut Lowering, node: &Node) -> Result<()> {
    if !is_builtin(node) {
        let template = lowering
            .templates
            .user_template(&node.domain, &node.op_type)
            .ok_or_else(|| Error::node(node, "no built-in kernel and no template"))?
            .to_string();
        return custom::lower(lowering, node, &template);
    }
    match node.op_type.as_str() {
        "QuantizeLinear" => quantize::lower_quantize(lowering, node),
        "DequantizeLinear" => quantize::lower_dequantize(lowering, node),
        "Conv" => conv::lower(lowering, node),
        "Gemm" | "MatMul" => dense::lower(lowering, node),
        "Relu" | "Clip" => activation::lower(lowering, node),
        "MaxPool" | "AveragePool" | "GlobalAveragePool" => pool::lower(lowering, node),
        "Add" => add::lower(lowering, node),
        "Flatten" | "Reshape" | "Identity" => layout::lower(lowering, node),
        other => Err(Error::node(
            node,
            format!("internal: {other} is listed as built-in but has no lowering"),
        )),
    }
}

/// Every node that has neither a built-in kernel nor a user template, in one error.
pub fn check_implemented(
    graph: &crate::onnx::Graph,
    templates: &crate::emit::Templates,
) -> Result<()> {
    for node in &graph.nodes {
        if let Some(Error::Template { template, message }) =
            templates.broken_template(&node.domain, &node.op_type)
        {
            return Err(Error::Template {
                template: template.clone(),
                message: format!(
                    "used by node '{}': {message}",
                    crate::emit::comment_safe(&node.name)
                ),
            });
        }
    }
    let missing: Vec<String> = graph
        .nodes
        .iter()
        .filter(|n| !is_builtin(n) && templates.user_template(&n.domain, &n.op_type).is_none())
        .map(|n| {
            let op = if n.domain.is_empty() {
                n.op_type.clone()
            } else {
                format!("{}::{}", n.domain, n.op_type)
            };
            format!(
                "  node '{}' ({op}): no built-in kernel; a template at {} would implement it",
                crate::emit::comment_safe(&n.name),
                templates.expected_path(&n.domain, &n.op_type)
            )
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Unsupported {
            count: missing.len(),
            list: missing.join("\n"),
        })
    }
}

/// Binds `node`'s output to a pending computation.
pub fn define_pending(
    lowering: &mut Lowering,
    node: &Node,
    compute: std::rc::Rc<dyn Pending>,
) -> Result<()> {
    let output = single_output(node)?;
    lowering.define(
        output,
        crate::quant::Value::Pending(crate::quant::lower::PendingValue {
            compute,
            bounds: RealBounds::default(),
            node: node.clone(),
            ops: node.op_type.clone(),
        }),
    );
    Ok(())
}

/// The node's one output; nodes with optional extra outputs in use are rejected.
pub fn single_output(node: &Node) -> Result<&str> {
    match node.outputs.iter().filter(|o| !o.is_empty()).count() {
        1 if !node.outputs[0].is_empty() => Ok(&node.outputs[0]),
        n => Err(Error::node(
            node,
            format!("expected exactly one output (the first), found {n} in use"),
        )),
    }
}

pub use quantize::copy_layer;
