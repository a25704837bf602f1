//! LayerNormalization and RMSNormalization over the trailing axes, computed as ONNX Runtime
//! computes them, operation for operation in f32, so that the result is bit-identical:
//! - the sums of `x` and `x * x` in integers; both are exact in f32 as well (below 2^24, hence
//!   at most 1024 normalised elements), so they equal ONNX Runtime's f32 sums in any order;
//! - `mean = sum / N`, `d = sqrt(sum_sq / N - mean * mean + epsilon)` (RMSNormalization:
//!   `sqrt(sum_sq / N + epsilon)`), with `sqrt_f32` correctly rounded like the C++ `sqrt`;
//! - `y = (x - mean) / d * scale + bias` (RMSNormalization: `x / d * scale`), then QuantizeLinear.
//!
//! Every step is one IEEE f32 operation in the same order, and Rust does not contract them
//! into fused multiply-adds, so the kernel reproduces ONNX Runtime's f32 value exactly.

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Lowering;
use crate::lower::Pending;
use crate::onnx::{normalize_axis, Node};
use crate::quant::QType;
use std::rc::Rc;

/// Normalised elements at most, so that the f32 sum of squares (`<= 128^2 N`) is exact.
const MAX_LENGTH: usize = 1024;
/// Normalised int16 elements at most: the f32 sum of `x` is exact, and the f32 sum of the
/// squares, rounded in an order ONNX Runtime does not fix, is within `N 2^-24 <= 2^-18` of the
/// exact one, which moves an output within the int16 range by at most 2^-4 of a step (unless
/// the mean dwarfs the spread, where `sum_sq / N - mean^2` cancels).
const MAX_INT16_LENGTH: usize = 64;

pub fn lower_layer_normalization(lowering: &mut Lowering, node: &Node) -> Result<()> {
    lower(lowering, node, false)
}

pub fn lower_rms_normalization(lowering: &mut Lowering, node: &Node) -> Result<()> {
    lower(lowering, node, true)
}

/// LayerNormalization, or RMSNormalization when `rms`.
fn lower(lowering: &mut Lowering, node: &Node, rms: bool) -> Result<()> {
    let (input, shape) = crate::lower::nonempty_input(lowering, node)?;
    let axis = normalize_axis(node, node.attr_int("axis", -1)?, shape.len())?;
    if node.attr_int("stash_type", 1)? != 1 {
        return Err(Error::node(node, "only stash_type 1 (f32) is supported"));
    }
    let epsilon = node.attr_float("epsilon", 1e-5)?;
    let length: usize = shape[axis..].iter().product();
    let int16 = lowering.tensor(input).dtype == QType::I16;
    if int16 && length > MAX_INT16_LENGTH {
        return Err(Error::node(
            node,
            format!("{length} normalised int16 elements; at most {MAX_INT16_LENGTH}, so that ONNX Runtime's f32 sums stay within a small fraction of a step"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(Error::node(
            node,
            format!("{length} normalised elements; at most {MAX_LENGTH}, so that the f32 sums are exact"),
        ));
    }
    let scale = float_constant(lowering, node, 1, length)?
        .ok_or_else(|| Error::node(node, "the scale input is required"))?;
    let bias = if rms {
        None
    } else {
        float_constant(lowering, node, 2, length)?
    };
    let pending = NormPending {
        node: node.clone(),
        rms,
        input,
        length,
        epsilon,
        scale,
        bias,
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

/// A float constant input (or a DequantizeLinear of one) with exactly `length` values, as
/// ONNX Runtime requires of scale and bias.
fn float_constant(
    lowering: &Lowering,
    node: &Node,
    index: usize,
    length: usize,
) -> Result<Option<Vec<f32>>> {
    if !lowering.has_input(node, index) {
        return Ok(None);
    }
    let values: Vec<f32> = crate::lower::real_constant(lowering, node, index)?
        .0
        .iter()
        .map(|&v| v as f32)
        .collect();
    if values.len() != length {
        return Err(Error::node(
            node,
            format!(
                "input '{}' has {} values, expected {length} (the normalised elements)",
                node.inputs[index],
                values.len()
            ),
        ));
    }
    Ok(Some(values))
}

/// Refuses exponents for which 2^ex, 2^2ex or 2^-ey is not a normal f32: the f32 kernels
/// scale by them and rely on that being exact.
pub(super) fn check_f32_exponents(node: &Node, ex: i32, ey: i32) -> Result<()> {
    if !(-60..=60).contains(&ex) || !(-120..=120).contains(&ey) {
        return Err(Error::node(
            node,
            format!("exponents {ex} (input) or {ey} (output) out of range"),
        ));
    }
    Ok(())
}

#[derive(Debug)]
struct NormPending {
    node: Node,
    rms: bool,
    input: TensorId,
    length: usize,
    epsilon: f32,
    scale: Vec<f32>,
    bias: Option<Vec<f32>>,
    shape: Vec<usize>,
}

impl Pending for NormPending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let ex = lowering.tensor(self.input).exponent;
        check_f32_exponents(&self.node, ex, output_exponent)?;
        let kernel = NormKernel {
            int16_input: lowering.tensor(self.input).dtype == QType::I16,
            rms: self.rms,
            length: self.length,
            input_exponent: ex,
            output_exponent,
            epsilon: self.epsilon,
            scale: self.scale.clone(),
            bias: self.bias.clone(),
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct NormKernel {
    /// The squares of int16 values round in f32: summed in f32, in ONNX Runtime's order.
    int16_input: bool,
    rms: bool,
    length: usize,
    input_exponent: i32,
    output_exponent: i32,
    epsilon: f32,
    scale: Vec<f32>,
    bias: Option<Vec<f32>>,
    clamp: Clamp,
}

fn bits(values: &[f32]) -> Vec<i64> {
    values.iter().map(|v| v.to_bits() as i64).collect()
}

impl Kernel for NormKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Normalization)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let scale = out.add_static("SCALE", Elem::U32, &[self.length], bits(&self.scale));
        out.set("scale", scale);
        if let Some(bias) = &self.bias {
            let bias = out.add_static("BIAS", Elem::U32, &[self.length], bits(bias));
            out.set("bias", bias);
        }
        out.set("rms", self.rms);
        out.set("int16_input", self.int16_input);
        out.set("length", self.length);
        out.set("step", format!("{:?}", 2f64.powi(self.input_exponent)));
        // 2^2ex as the shortest f32 literal (an int16 input's fine steps have long f64 ones).
        let square_step = if self.int16_input {
            format!("{:?}", 2f32.powi(2 * self.input_exponent))
        } else {
            format!("{:?}", 2f64.powi(2 * self.input_exponent))
        };
        out.set("square_step", square_step);
        out.set(
            "inverse_scale",
            format!("{:?}", 2f64.powi(-self.output_exponent)),
        );
        out.set("epsilon_bits", format!("{:#x}", self.epsilon.to_bits()));
        self.clamp.set(out);
        out.describe(format!(
            "{} over {} elements, epsilon {:e}, in f32",
            if self.rms {
                "RMS normalization"
            } else {
                "layer normalization"
            },
            self.length,
            self.epsilon
        ));
        Ok(())
    }

    fn supports_int16(&self) -> bool {
        true
    }
}
