//! ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceSumSquare and ReduceL1 over any set of
//! axes: an i32 accumulator per output element, then one rounding to the output exponent.
//! - Sum, L1: the sum of `x` or `|x|` at `ex`, shifted to `ey`.
//! - SumSquare: the sum of `x * x` at `2 ex`, shifted.
//! - Mean: `round(sum * 2^(ex - ey) / N)` in integers, as the average pools.
//! - Max, Min: one of the inputs, requantized (exact).
//! - L2: `round(sqrt(sum of x * x) * 2^(ex - ey))`, exact in integers (`sqrt_round`). ONNX
//!   Runtime's f32 square root can fall on the other side of a rounding boundary, so like the
//!   table ops it may differ by 1 LSB.

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
    if lowering.tensor(input).dtype == QType::I16 {
        check_int16(node, reduction, count)?;
    }
    let largest_term: usize = match reduction {
        _ if lowering.tensor(input).dtype == QType::I16 => 1 << 15,
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
    if reduction == Reduction::LogSum && count * 127 > MAX_LOG_TABLE {
        return Err(Error::node(
            node,
            format!("a log-sum of {count} elements needs a table of {} entries (at most {MAX_LOG_TABLE})", count * 127),
        ));
    }
    // The i32 sum of `count` terms (the reduce kernel has no i64 form).
    let terms = std::iter::repeat_n(largest_term as i64, count);
    let accumulator = Accumulator::for_bound(node, worst_case(0, terms, 1), false)?;
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

/// The reductions of an int16 input, and their size limit: ONNX Runtime sums in f32, which
/// is exact while the sum stays below 2^24 (`count * 2^15 <= 2^24`). Squares of int16 values
/// (SumSquare, L2) already round in f32, and the table reductions (LogSum, LogSumExp) and
/// Prod have int8-sized tables or products: those refuse int16.
fn check_int16(node: &Node, reduction: Reduction, count: usize) -> Result<()> {
    match reduction {
        Reduction::Max | Reduction::Min => Ok(()),
        Reduction::Sum | Reduction::Mean | Reduction::L1 if count <= 1 << 9 => Ok(()),
        Reduction::Sum | Reduction::Mean | Reduction::L1 => Err(Error::node(
            node,
            format!("an int16 sum of {count} elements can exceed 2^24 and round in ONNX Runtime's f32 (at most 512)"),
        )),
        other => Err(Error::node(
            node,
            format!("Reduce{other:?} supports int8 inputs only (int16: Sum, Mean, Max, Min, L1)"),
        )),
    }
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
        } else if int16
            && !matches!(
                self.reduction,
                Reduction::Sum | Reduction::Max | Reduction::Min | Reduction::L1
            )
        {
            return Err(Error::node(
                &self.node,
                format!(
                    "Reduce{:?} to int16 is not supported (int16: Sum, Mean, Max, Min, L1)",
                    self.reduction
                ),
            ));
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
        let table: Vec<i64> = match self.reduction {
            Reduction::LogSum => (1..=127 * self.count)
                .map(|s| {
                    let y = ((s as f64) * step).ln() * 2f64.powi(-output_exponent);
                    lowering.rounding.round(y).clamp(-128.0, 127.0) as i64
                })
                .collect(),
            Reduction::LogSumExp => {
                if !(-100..=100).contains(&output_exponent) {
                    return Err(Error::node(
                        &self.node,
                        format!("output exponent {output_exponent} outside -100..=100"),
                    ));
                }
                (0..256)
                    .map(|k| ((-(k as f64) * step).exp() * 2f64.powi(ONE_BITS)).round() as i64)
                    .collect()
            }
            _ => Vec::new(),
        };
        let kernel = ReduceKernel {
            reduction: self.reduction,
            table,
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
    /// LogSum: `ln` of the sums `1..`; LogSumExp: the Q24 exps.
    table: Vec<i64>,
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
        match self.reduction {
            Reduction::LogSum => {
                let table = out.add_static("LN", Elem::I8, &[self.table.len()], self.table.clone());
                out.set("table", table);
            }
            Reduction::LogSumExp => {
                let table = out.add_static("EXP", Elem::U32, &[256], self.table.clone());
                out.set("table", table);
                out.set("input_step", format!("{:?}", self.input_step));
                out.set(
                    "inverse_scale",
                    format!("{:?}", 2f64.powi(-self.output_exponent)),
                );
                out.set("one_bits", ONE_BITS);
            }
            _ => {}
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

    /// Sum, Mean, Max, Min and L1 (the lowering refuses the others on int16).
    fn supports_int16(&self) -> bool {
        matches!(
            self.reduction,
            Reduction::Sum | Reduction::Mean | Reduction::Max | Reduction::Min | Reduction::L1
        )
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
