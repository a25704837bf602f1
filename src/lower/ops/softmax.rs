//! Softmax over one axis of an int8 tensor, in integers. With `x = q * 2^ex`,
//! `exp(x_i - max) = exp(-(q_max - q_i) * 2^ex)` takes only 256 values, so a table of them in
//! fixed point (2^24 = 1.0) is built at codegen; then `y_i = T_i / sum_j T_j` is rounded to the
//! output exponent by one exact integer division.
//!
//! ONNX Runtime evaluates exp in f32 with its own approximation, and our table entries carry a
//! relative error of 2^-25, so an output can differ by one step near a rounding boundary, as for
//! the table ops.
//!
//! LogSoftmax shares the table and the sum: `y_i = (x_i - max) - ln(sum_j exp(x_j - max))`, as
//! ONNX Runtime computes it, with the log in f64 (`ln_f64`) once per softmax and the result
//! quantized from f32. ONNX Runtime's f32 exp and log make it differ by 1 LSB near a rounding
//! boundary, as Softmax.

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Lowering;
use crate::lower::Pending;
use crate::onnx::{normalize_axis, Node};
use std::rc::Rc;

/// Fixed-point scale of the exp table: `T[k] = round(exp(-k * 2^ex) * 2^ONE_BITS)`.
const ONE_BITS: i32 = 24;

pub fn lower_softmax(lowering: &mut Lowering, node: &Node) -> Result<()> {
    lower(lowering, node, false)
}

pub fn lower_log_softmax(lowering: &mut Lowering, node: &Node) -> Result<()> {
    lower(lowering, node, true)
}

/// Softmax, or LogSoftmax when `log`.
fn lower(lowering: &mut Lowering, node: &Node, log: bool) -> Result<()> {
    let (input, shape) = crate::lower::nonempty_input(lowering, node)?;
    // From opset 13 Softmax normalises one axis (default -1); before, everything from the
    // axis on (default 1), as one flattened axis.
    let (default_axis, one_axis) = if lowering.graph.opset >= 13 {
        (-1, true)
    } else {
        (1, false)
    };
    let axis = normalize_axis(node, node.attr_int("axis", default_axis)?, shape.len())?;
    let (length, inner) = if one_axis {
        (shape[axis], shape[axis + 1..].iter().product())
    } else {
        (shape[axis..].iter().product(), 1)
    };
    let pending = SoftmaxPending {
        node: node.clone(),
        log,
        input,
        length,
        inner,
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

#[derive(Debug)]
struct SoftmaxPending {
    node: Node,
    /// LogSoftmax.
    log: bool,
    input: TensorId,
    /// Elements normalised together, `inner` apart.
    length: usize,
    inner: usize,
    shape: Vec<usize>,
}

impl Pending for SoftmaxPending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        // The numerator T_i * 2^-ey must fit in i64 (T_i <= 2^24), and the sum of `length`
        // entries too.
        let exponents = if self.log { -100..=100 } else { -38..=0 };
        if !exponents.contains(&output_exponent) || self.length > 1 << 30 {
            return Err(Error::node(
                &self.node,
                format!(
                    "output exponent {output_exponent} outside {exponents:?}, or {} elements per softmax",
                    self.length
                ),
            ));
        }
        let step = 2f64.powi(lowering.tensor(self.input).exponent);
        let exp_table = (0..256)
            .map(|k| ((-(k as f64) * step).exp() * 2f64.powi(ONE_BITS)).round() as i64)
            .collect();
        let kernel = SoftmaxKernel {
            exp_table,
            log: self.log,
            step,
            output_exponent,
            length: self.length,
            inner: self.inner,
            shift: -output_exponent,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct SoftmaxKernel {
    exp_table: Vec<i64>,
    log: bool,
    /// The input's scale, `2^ex`.
    step: f64,
    output_exponent: i32,
    length: usize,
    inner: usize,
    /// `-ey`: the numerator's left shift.
    shift: i32,
    clamp: Clamp,
}

impl Kernel for SoftmaxKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Softmax)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let table = out.add_static("EXP", Elem::U32, &[256], self.exp_table.clone());
        out.set("exp_table", table);
        out.set("length", self.length);
        out.set("inner", self.inner);
        out.set("shift", self.shift);
        out.set("log", self.log);
        if self.log {
            out.set("step", format!("{:?}", self.step));
            out.set(
                "inverse_scale",
                format!("{:?}", 2f64.powi(-self.output_exponent)),
            );
            out.set("one_bits", ONE_BITS);
        }
        self.clamp.set(out);
        out.describe(format!(
            "{} of {} elements {} apart, exp table in Q{ONE_BITS}",
            if self.log { "log-softmax" } else { "softmax" },
            self.length,
            self.inner
        ));
        Ok(())
    }
}
