//! ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceSumSquare and ReduceL1 over any set of
//! axes: an i32 accumulator per output element (i64 for int16 squares), then one rounding to
//! the output exponent.
//! - Sum, L1: the sum of `x` or `|x|` at `ex`, shifted to `ey`.
//! - SumSquare: the sum of `x * x` at `2 ex`, shifted.
//! - Mean: `round(sum * 2^(ex - ey) / N)` in integers, as the average pools.
//! - Max, Min: one of the inputs, requantized (exact).
//! - L2: `round(sqrt(sum of x * x) * 2^(ex - ey))`, exact in integers (`sqrt_round`). ONNX
//!   Runtime's f32 square root can fall on the other side of a rounding boundary, so like the
//!   table ops it may differ by 1 LSB.
//! - Prod: the exact integer product rounded to f32 once, as ONNX Runtime's f32 product.
//! - LogSum: int8 to int8 reads a table of `ln` over the sums; with an int16 side, `ln` of the
//!   exact sum in f64, quantized from f32.
//! - LogSumExp: `max + ln(sum exp(x - max))`, the exps from Softmax's tables.

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Lowering;
use crate::lower::Pending;
use crate::onnx::{normalize_axis, Node};
use crate::quant::accumulator::{worst_case, Accumulator};
use crate::quant::QType;
use std::rc::Rc;

/// The reduction of a Reduce* op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    Sum,
    Mean,
    Max,
    Min,
    SumSquare,
    L1,
    L2,
    Prod,
    LogSum,
    LogSumExp,
}

/// Fixed-point scale of the LogSumExp exp table, as Softmax's.
const ONE_BITS: i32 = 24;
/// ReduceProd: at most this many factors, so that ONNX Runtime's f32 product rounds once.
const MAX_PROD_FACTORS: usize = 4;
/// ReduceProd of an int16 input: two factors (at most 2^30) round in f32 once.
const MAX_PROD_FACTORS_INT16: usize = 2;
/// An int16 sum (Sum, Mean, L1, LogSum) stays exact in ONNX Runtime's f32 below 2^24.
const MAX_INT16_SUM: usize = 1 << 9;
/// ReduceSumSquare and ReduceL2 of an int16 input: ONNX Runtime's f32 squares and sum are
/// within `N 2^-24` of the exact sum, under half a step of an int16 output.
const MAX_INT16_SQUARES: usize = 1 << 8;
/// ReduceLogSum: the largest table (entries `1..=127 N`).
const MAX_LOG_TABLE: usize = 1 << 16;

pub fn lower(lowering: &mut Lowering, node: &Node, reduction: Reduction) -> Result<()> {
    let input = lowering.quant_input(node, 0)?;
    let shape = lowering.tensor(input).shape.clone();
    if shape.contains(&0) {
        return Err(Error::node(node, format!("input shape {shape:?} is empty")));
    }
    // Axes are an input from opset 18 (13 for ReduceSum), an attribute before.
    let axes_from_input =
        lowering.graph.opset >= 18 || (reduction == Reduction::Sum && lowering.graph.opset >= 13);
    let axes: Option<Vec<i64>> = if axes_from_input {
        lowering
            .constant(node, 1)?
            .map(|c| c.values.iter().map(|&v| v as i64).collect())
    } else {
        node.attr_ints("axes")?
    };
    let noop_with_empty_axes = node.attr_int("noop_with_empty_axes", 0)? != 0;
    let axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&a| normalize_axis(node, a, shape.len()))
            .collect::<Result<_>>()?,
        _ if noop_with_empty_axes => {
            return Err(Error::node(node, "noop_with_empty_axes is not supported"))
        }
        _ => (0..shape.len()).collect(),
    };
    let keepdims = node.attr_int("keepdims", 1)? != 0;
    let output_shape: Vec<usize> = (0..shape.len())
        .filter_map(|a| match (axes.contains(&a), keepdims) {
            (true, true) => Some(1),
            (true, false) => None,
            (false, _) => Some(shape[a]),
        })
        .collect();
    let count: usize = axes.iter().map(|&a| shape[a]).product();
    let int16_input = lowering.tensor(input).dtype == QType::I16;
    if int16_input {
        check_int16(node, reduction, count)?;
    }
    let squares = matches!(reduction, Reduction::SumSquare | Reduction::L2);
    let largest_term: usize = match reduction {
        _ if int16_input && squares => 1 << 30,
        _ if int16_input => 1 << 15,
        Reduction::SumSquare | Reduction::L2 => 128 * 128,
        // The Q24 exps are at most 2^24 each, summed in i64.
        Reduction::LogSumExp => 1,
        _ => 128,
    };
    if reduction == Reduction::Prod && count > MAX_PROD_FACTORS {
        return Err(Error::node(
            node,
            format!("a product of {count} elements; at most {MAX_PROD_FACTORS}, so that ONNX Runtime's f32 product rounds only once"),
        ));
    }
    // The i32 sum of `count` terms; int16 squares sum in i64.
    let terms = std::iter::repeat_n(largest_term as i64, count);
    let accumulator =
        Accumulator::for_bound(node, worst_case(0, terms, 1), int16_input && squares)?;
    let pending = ReducePending {
        node: node.clone(),
        reduction,
        input,
        output_index: output_index(&shape, &axes),
        count,
        accumulator,
        output_shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

/// The size limits of an int16 input, so that ONNX Runtime's f32 arithmetic is matched
/// exactly or within 1 LSB (docs/numerics.md, "int16").
fn check_int16(node: &Node, reduction: Reduction, count: usize) -> Result<()> {
    let (limit, why) = match reduction {
        // LogSumExp's limit is its fixed-point error, checked with the output exponent.
        Reduction::Max | Reduction::Min | Reduction::LogSumExp => return Ok(()),
        Reduction::Sum | Reduction::Mean | Reduction::L1 | Reduction::LogSum => (
            MAX_INT16_SUM,
            "an int16 sum that can exceed 2^24 rounds in ONNX Runtime's f32",
        ),
        Reduction::SumSquare | Reduction::L2 => (
            MAX_INT16_SQUARES,
            "ONNX Runtime's f32 squares and sum could then stray a step from the exact sum",
        ),
        Reduction::Prod => (
            MAX_PROD_FACTORS_INT16,
            "a longer int16 product rounds in f32 more than once, in ONNX Runtime's order",
        ),
    };
    if count > limit {
        return Err(Error::node(
            node,
            format!("Reduce{reduction:?} of {count} int16 elements; at most {limit}: {why}"),
        ));
    }
    Ok(())
}

/// Rust expression for the flat output index that input element `i` reduces into: the input
/// coordinates with the reduced axes dropped.
fn output_index(shape: &[usize], axes: &[usize]) -> String {
    let len: usize = shape.iter().product();
    let mut terms = Vec::new();
    let (mut in_stride, mut out_stride) = (1, 1);
    for axis in (0..shape.len()).rev() {
        if !axes.contains(&axis) && shape[axis] > 1 {
            let wraps = in_stride * shape[axis] < len;
            terms.push(crate::lower::index_term(
                in_stride,
                wraps.then_some(shape[axis]),
                out_stride,
            ));
            out_stride *= shape[axis];
        }
        in_stride *= shape[axis];
    }
    if terms.is_empty() {
        "0".into()
    } else {
        terms.reverse();
        terms.join(" + ")
    }
}

#[derive(Debug)]
struct ReducePending {
    node: Node,
    reduction: Reduction,
    input: TensorId,
    output_index: String,
    count: usize,
    accumulator: Accumulator,
    output_shape: Vec<usize>,
}

impl Pending for ReducePending {
    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let ex = lowering.tensor(self.input).exponent;
        let acc_exponent = match self.reduction {
            Reduction::SumSquare => 2 * ex,
            Reduction::Prod => self.count as i32 * ex,
            _ => ex,
        };
        let shift = output_exponent - acc_exponent;
        let int16 = lowering.tensor(self.input).dtype == QType::I16 || clamp.dtype == QType::I16;
        if int16 && matches!(self.reduction, Reduction::Mean) {
            super::pool::check_f32_average(&self.node, self.count, shift)?;
        }
        if self.reduction == Reduction::Mean {
            // ONNX Runtime divides the f32 sum by N; the exact quotient is at least
            // 1 / (N * 2^(shift + 1)) away from a rounding boundary unless on it, and f32's
            // error below 128.5 is at most 2^-17. Keep a margin of 16.
            let denominator = (self.count as f64) * 2f64.powi(shift.max(0));
            if denominator > 4096.0 {
                return Err(Error::node(
                    &self.node,
                    format!("a mean of {} elements at shift {shift} may not round like ONNX Runtime's f32 (N * 2^shift > 4096)", self.count),
                ));
            }
        }
        let step = 2f64.powi(ex);
        let (table, exp_high): (Vec<i64>, Option<Vec<i64>>) = match self.reduction {
            // An int16 side takes `ln` at run time instead.
            Reduction::LogSum if !int16 => {
                if self.count * 127 > MAX_LOG_TABLE {
                    return Err(Error::node(
                        &self.node,
                        format!("a log-sum of {} elements needs a table of {} entries (at most {MAX_LOG_TABLE})", self.count, self.count * 127),
                    ));
                }
                let table = (1..=127 * self.count)
                    .map(|s| {
                        let y = ((s as f64) * step).ln() * 2f64.powi(-output_exponent);
                        lowering.rounding.round(y).clamp(-128.0, 127.0) as i64
                    })
                    .collect();
                (table, None)
            }
            Reduction::LogSum => (Vec::new(), None),
            Reduction::LogSumExp => {
                if !(-100..=100).contains(&output_exponent) {
                    return Err(Error::node(
                        &self.node,
                        format!("output exponent {output_exponent} outside -100..=100"),
                    ));
                }
                if int16 {
                    // Softmax's int16 exps: each within 2^-29, the sum at least 1, so the log
                    // moves by at most N 2^-29: keep that under a quarter step.
                    let error = self.count as f64 * 2f64.powi(-29 - output_exponent);
                    if error > 0.25 {
                        return Err(Error::node(
                            &self.node,
                            format!("an int16 log-sum-exp of {} elements at 2^{output_exponent}: the fixed-point error could reach {error:.2} steps (at most 0.25)", self.count),
                        ));
                    }
                    let (low, high) = super::softmax::wide_exp_tables(step);
                    (low, Some(high))
                } else {
                    (super::softmax::exp_table(ONE_BITS, 1.0, step), None)
                }
            }
            _ => (Vec::new(), None),
        };
        let kernel = ReduceKernel {
            reduction: self.reduction,
            table,
            exp_high,
            input_exponent: ex,
            input_step: step,
            output_exponent,
            output_len: self.output_shape.iter().product(),
            output_index: self.output_index.clone(),
            count: self.count,
            accumulator: self.accumulator,
            shift,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct ReduceKernel {
    reduction: Reduction,
    /// LogSum: `ln` of the sums `1..` (empty: `ln` at run time); LogSumExp: the Q24 exps, or
    /// Softmax's low Q30 table with `exp_high`.
    table: Vec<i64>,
    /// LogSumExp with an int16 side: `exp(-256 k 2^ex)` in Q30.
    exp_high: Option<Vec<i64>>,
    input_exponent: i32,
    input_step: f64,
    output_exponent: i32,
    output_len: usize,
    output_index: String,
    count: usize,
    accumulator: Accumulator,
    shift: i32,
    clamp: Clamp,
}

impl Kernel for ReduceKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Reduce)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let kind = format!("{:?}", self.reduction).to_lowercase();
        out.set("kind", &kind);
        out.set("output_index", &self.output_index);
        out.set("output_len", self.output_len);
        out.set("count", self.count);
        out.set("shift", self.shift);
        out.set(
            "divide_round",
            match out.output_type() {
                QType::I8 => "divide_round",
                QType::I16 => "divide_round_i16",
            },
        );
        out.set("acc_ty", if self.accumulator.wide { "i64" } else { "i32" });
        let wide_requantize = match out.output_type() {
            QType::I8 => "requantize_i64",
            QType::I16 => "requantize_i64_to_i16",
        };
        out.set("wide_requantize", wide_requantize);
        // L2 with an int16 side: the square root rounded over the int16 range.
        let wide_sqrt = self.accumulator.wide || out.output_type() == QType::I16;
        out.set("wide_sqrt", wide_sqrt);
        let runtime_ln = self.reduction == Reduction::LogSum && self.table.is_empty();
        out.set("runtime_ln", runtime_ln);
        if runtime_ln {
            out.set("input_exponent", self.input_exponent);
        }
        if self.reduction == Reduction::LogSum && !runtime_ln {
            let table = out.add_static("LN", Elem::I8, &[self.table.len()], self.table.clone());
            out.set("table", table);
        }
        if runtime_ln || self.reduction == Reduction::LogSumExp {
            out.set(
                "inverse_scale",
                format!("{:?}", 2f64.powi(-self.output_exponent)),
            );
        }
        if self.reduction == Reduction::LogSumExp {
            let table = out.add_static("EXP", Elem::U32, &[256], self.table.clone());
            out.set("table", table);
            out.set("input_step", format!("{:?}", self.input_step));
            let one_bits = match &self.exp_high {
                Some(high) => {
                    let high = out.add_static("EXP_HIGH", Elem::U32, &[256], high.clone());
                    out.set("exp_high", high);
                    super::softmax::WIDE_ONE_BITS
                }
                None => ONE_BITS,
            };
            out.set("wide_exp", self.exp_high.is_some());
            out.set("one_bits", one_bits);
        }
        self.clamp.set(out);
        out.describe(format!(
            "{kind} of {} elements each, shift {}",
            self.count, self.shift
        ));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }

    /// Every reduction; the lowering refuses the sizes it cannot match on int16.
    fn supports_int16(&self) -> bool {
        true
    }

    fn accumulator(&self) -> Option<Accumulator> {
        // Max, Min and Prod do not sum; LogSumExp sums its Q24 exps in i64 (see `largest_term`).
        matches!(
            self.reduction,
            Reduction::Sum
                | Reduction::Mean
                | Reduction::SumSquare
                | Reduction::L1
                | Reduction::L2
                | Reduction::LogSum
        )
        .then_some(self.accumulator)
    }
}
