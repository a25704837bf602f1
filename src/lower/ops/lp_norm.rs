//! LpNormalization (p = 1 or 2) along one axis, as ONNX Runtime computes it in f32:
//! `norm = sum(|x|)` or `sqrt(sum(x * x))`, then `y = x / norm`, and `y = 0` where the norm is 0.
//!
//! With `x = q * 2^ex`, the sums are integers times `2^ex` (`2^2ex`): exact in f32 in any
//! order while below 2^24 (at most 1024 elements for p = 2, 131072 for p = 1), so they equal
//! ONNX Runtime's sums. The square root is `sqrt_f32`, correctly rounded like C++'s `sqrt`,
//! and the division one IEEE f32 operation, so the kernel reproduces ONNX Runtime's value
//! exactly before the QuantizeLinear.

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::KernelEmit;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::lower::Lowering;
use crate::lower::Pending;
use crate::onnx::{normalize_axis, Node};
use crate::quant::QType;
use std::rc::Rc;

/// The f32 sums stay exact below 2^24: `128^2 N` for p = 2, `128 N` for p = 1.
const fn max_length(p: i64) -> usize {
    if p == 2 {
        1 << 10
    } else {
        1 << 17
    }
}

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = crate::lower::nonempty_input(lowering, node)?;
    let axis = normalize_axis(node, node.attr_int("axis", -1)?, shape.len())?;
    let p = node.attr_int("p", 2)?;
    if p != 1 && p != 2 {
        return Err(Error::node(node, format!("p {p} is not 1 or 2")));
    }
    let length = shape[axis];
    if lowering.tensor(input).dtype == QType::I16 {
        // Squares of int16 values round in f32, in an order ONNX Runtime leaves to Eigen; a
        // sum of |x| is exact below 2^24 (at most 512 elements).
        if p == 2 || length > 1 << 9 {
            return Err(Error::node(
                node,
                format!("an int16 input supports p = 1 over at most 512 elements (p = {p}, {length} elements), so that ONNX Runtime's f32 sum is exact"),
            ));
        }
    }
    if length > max_length(p) {
        return Err(Error::node(
            node,
            format!(
                "{length} elements along axis {axis}; at most {} for p = {p}, so that the f32 sum is exact",
                max_length(p)
            ),
        ));
    }
    let pending = LpNormPending {
        node: node.clone(),
        input,
        p,
        length,
        inner: shape[axis + 1..].iter().product(),
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

#[derive(Debug)]
struct LpNormPending {
    node: Node,
    input: TensorId,
    p: i64,
    /// Elements along the axis.
    length: usize,
    /// The axis's stride: the product of the dims after it.
    inner: usize,
    shape: Vec<usize>,
}

impl Pending for LpNormPending {
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
        super::normalization::check_f32_exponents(&self.node, ex, output_exponent)?;
        let kernel = LpNormKernel {
            p: self.p,
            length: self.length,
            inner: self.inner,
            input_exponent: ex,
            output_exponent,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct LpNormKernel {
    p: i64,
    length: usize,
    inner: usize,
    input_exponent: i32,
    output_exponent: i32,
    clamp: Clamp,
}

impl Kernel for LpNormKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::LpNormalization)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("p", self.p);
        out.set("block", self.length * self.inner);
        out.set("inner", self.inner);
        let sum_exponent = if self.p == 2 { 2 } else { 1 } * self.input_exponent;
        out.set("step", format!("{:?}", 2f64.powi(self.input_exponent)));
        out.set("sum_step", format!("{:?}", 2f64.powi(sum_exponent)));
        out.set(
            "inverse_scale",
            format!("{:?}", 2f64.powi(-self.output_exponent)),
        );
        self.clamp.set(out);
        out.describe(format!(
            "L{} normalization over {} elements (stride {}), in f32",
            self.p, self.length, self.inner
        ));
        Ok(())
    }

    /// An int8 input to an int8 or int16 output; an int16 input for p = 1 (the lowering
    /// refuses p = 2).
    fn supports_int16(&self) -> bool {
        true
    }
}
