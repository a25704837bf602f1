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
//!
//! With an int16 input or output, `q_max - q_i` takes up to 65,536 values: `exp` is the
//! product of two 256-entry tables in Q30 (`d = 256 h + l`), and the quotient or the log is
//! rounded to the output type. The codegen check below keeps the fixed-point error under a
//! quarter step, so an output differs from ONNX Runtime's by at most 1 LSB.

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Lowering;
use crate::lower::Pending;
use crate::onnx::{normalize_axis, Node};
use crate::quant::QType;
use std::rc::Rc;

/// Fixed-point scale of the exp table: `T[k] = round(exp(-k * 2^ex) * 2^ONE_BITS)`.
const ONE_BITS: i32 = 24;
/// Fixed-point scale of the int16 kernel's two exp tables and of their product.
pub(super) const WIDE_ONE_BITS: i32 = 30;

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
        let input = lowering.tensor(self.input);
        let wide = input.dtype == QType::I16 || clamp.dtype == QType::I16;
        let exponents = match (self.log, wide) {
            (true, _) => -100..=100,
            (false, false) => -38..=0,
            // exp << -ey stays below 2^62.
            (false, true) => -32..=0,
        };
        if !exponents.contains(&output_exponent) || self.length > 1 << 30 {
            return Err(Error::node(
                &self.node,
                format!(
                    "output exponent {output_exponent} outside {exponents:?}, or {} elements per softmax",
                    self.length
                ),
            ));
        }
        let step = 2f64.powi(input.exponent);
        let (exp_table, exp_high) = if wide {
            // Each exp is off by at most 2^-29 (two entries and the product rounded), the sum
            // is at least 1 (the maximum's exp), so an output moves by at most
            // (N + 1) 2^-29 2^-ey steps: keep that under a quarter step.
            let error = (self.length as f64 + 1.0) * 2f64.powi(-29 - output_exponent);
            if error > 0.25 {
                return Err(Error::node(
                    &self.node,
                    format!("an int16 softmax of {} elements at 2^{output_exponent}: the fixed-point error could reach {error:.2} steps (at most 0.25)", self.length),
                ));
            }
            let (low, high) = wide_exp_tables(step);
            (low, Some(high))
        } else {
            (exp_table(ONE_BITS, 1.0, step), None)
        };
        let kernel = SoftmaxKernel {
            exp_table,
            exp_high,
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

/// `round(exp(-k stride step) 2^bits)` for `k` in `0..256`.
pub(super) fn exp_table(bits: i32, stride: f64, step: f64) -> Vec<i64> {
    (0..256)
        .map(|k| ((-(k as f64) * stride * step).exp() * 2f64.powi(bits)).round() as i64)
        .collect()
}

/// The int16 kernels' two Q30 tables, `exp(-l 2^ex)` and `exp(-256 h 2^ex)`: their product is
/// `exp(-(256 h + l) 2^ex)` for a difference of up to 65,535 codes (also ReduceLogSumExp's).
pub(super) fn wide_exp_tables(step: f64) -> (Vec<i64>, Vec<i64>) {
    (
        exp_table(WIDE_ONE_BITS, 1.0, step),
        exp_table(WIDE_ONE_BITS, 256.0, step),
    )
}

#[derive(Debug)]
struct SoftmaxKernel {
    /// `exp(-k 2^ex)` for `k` in `0..256`: in Q24, or Q30 with `exp_high`.
    exp_table: Vec<i64>,
    /// int16: `exp(-256 k 2^ex)` in Q30, the other factor.
    exp_high: Option<Vec<i64>>,
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
        let one_bits = match &self.exp_high {
            Some(high) => {
                let high = out.add_static("EXP_HIGH", Elem::U32, &[256], high.clone());
                out.set("exp_high", high);
                WIDE_ONE_BITS
            }
            None => ONE_BITS,
        };
        out.set("wide", self.exp_high.is_some());
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
            out.set("one_bits", one_bits);
        }
        self.clamp.set(out);
        out.describe(format!(
            "{} of {} elements {} apart, exp table in Q{one_bits}",
            if self.log { "log-softmax" } else { "softmax" },
            self.length,
            self.inner
        ));
        Ok(())
    }

    /// int16 input or output through the two Q30 tables.
    fn supports_int16(&self) -> bool {
        true
    }
}
