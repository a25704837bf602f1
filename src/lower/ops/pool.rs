//! MaxPool / GlobalMaxPool (exponent-preserving, emitted at once) and AveragePool /
//! GlobalAveragePool (`y = round(sum * 2^(ex-ey) / N)`, emitted when the output exponent is
//! known), in 1-D and 2-D.

use super::window::Window;
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::KernelEmit;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::lower::Pending;
use crate::lower::{Lowering, Value};
use crate::onnx::Node;
use crate::quant::accumulator::{worst_case, Accumulator};
use crate::quant::QType;
use std::rc::Rc;

/// The largest `N * 2^shift` of an int16 average (int16 input or output), so that it rounds
/// like ONNX Runtime's f32 one: the exact quotient `sum * 2^-shift / N` is on a rounding
/// boundary or at least `1 / (2 N 2^shift)` away from one, and below the int16 range f32's
/// division (or multiplication by `1 / N`, two roundings) errs by at most 2^-8. With
/// `N * 2^shift <= 64` the distance is at least 2^-7.
pub const MAX_INT16_AVERAGE_DENOMINATOR: f64 = 64.0;

/// Refuses an int16 average of `count` values at `shift` that f32 might round differently
/// (see [`MAX_INT16_AVERAGE_DENOMINATOR`]). The sum itself is exact in f32 when
/// `count * 2^15 <= 2^24`, which the same bound implies.
pub fn check_f32_average(node: &Node, count: usize, shift: i32) -> Result<()> {
    let denominator = count as f64 * 2f64.powi(shift.max(0));
    if denominator > MAX_INT16_AVERAGE_DENOMINATOR {
        return Err(Error::node(
            node,
            format!("an int16 average of {count} elements at shift {shift} may not round like ONNX Runtime's f32 (N * 2^shift = {denominator} > {MAX_INT16_AVERAGE_DENOMINATOR})"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolKind {
    Max,
    Average { count_include_pad: bool },
}

pub fn lower_max_pool(lowering: &mut Lowering, node: &Node) -> Result<()> {
    lower(lowering, node, PoolKind::Max, false)
}

pub fn lower_average_pool(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let count_include_pad = node.attr_int("count_include_pad", 0)? != 0;
    lower(
        lowering,
        node,
        PoolKind::Average { count_include_pad },
        false,
    )
}

pub fn lower_global_max_pool(lowering: &mut Lowering, node: &Node) -> Result<()> {
    lower(lowering, node, PoolKind::Max, true)
}

pub fn lower_global_average_pool(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let kind = PoolKind::Average {
        count_include_pad: false,
    };
    lower(lowering, node, kind, true)
}

/// A pool of `kind`, over the whole plane when `global`.
fn lower(lowering: &mut Lowering, node: &Node, kind: PoolKind, global: bool) -> Result<()> {
    let input = lowering.quant_input(node, 0)?;
    let x = lowering.tensor(input).clone();
    // 1-D pools run as 2-D pools of height 1 over [N, C, 1, L].
    let (batch, channels, in_h, in_w, one_d) = match x.shape[..] {
        [n, c, h, w] => (n, c, h, w, false),
        [n, c, l] => (n, c, 1, l, true),
        _ => {
            return Err(Error::node(
                node,
                format!(
                    "input shape {:?}: only 1-D (NCL) and 2-D (NCHW) pooling are supported",
                    x.shape
                ),
            ))
        }
    };
    let window = if global {
        Window {
            in_h,
            in_w,
            kernel: [in_h, in_w],
            strides: [1, 1],
            dilations: [1, 1],
            pads: [0; 4],
            out_h: 1,
            out_w: 1,
        }
    } else {
        if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
            return Err(Error::node(
                node,
                "the Indices output of MaxPool is not supported",
            ));
        }
        if one_d {
            Window::from_node_1d(node, in_w, None)?
        } else {
            Window::from_node(node, in_h, in_w, None)?
        }
    };
    let output_shape = if one_d {
        vec![batch, channels, window.out_w]
    } else {
        vec![batch, channels, window.out_h, window.out_w]
    };
    crate::lower::checked_len(lowering, node, &output_shape, x.dtype.bytes())?;
    let pool = PoolPending {
        node: node.clone(),
        input,
        kind,
        window,
        planes: batch * channels,
        output_shape,
    };
    if kind == PoolKind::Max {
        // The maximum of values at one exponent is one of them: no rounding, no Q needed, and
        // the output has the input's type (int8 or int16).
        let (kernel, inputs) = pool.finish(lowering, x.exponent, Clamp::none(x.dtype))?;
        let output = node.single_output()?;
        let y =
            lowering.new_typed_tensor(output, pool.output_shape.clone(), x.exponent, None, x.dtype);
        lowering.push_layer(node, &node.op_type, inputs, y, kernel);
        lowering.define(output, Value::Quant(y));
        Ok(())
    } else {
        crate::lower::define_pending(lowering, node, Rc::new(pool))
    }
}

#[derive(Debug)]
struct PoolPending {
    node: Node,
    input: TensorId,
    kind: PoolKind,
    window: Window,
    planes: usize,
    output_shape: Vec<usize>,
}

impl Pending for PoolPending {
    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        // An average pool sums its taps in i32 (the pool kernel has no i64 form).
        let taps = self.window.kernel[0] * self.window.kernel[1];
        let input = lowering.tensor(self.input);
        let shift = output_exponent - input.exponent;
        let int16 = input.dtype == QType::I16 || clamp.dtype == QType::I16;
        if int16 && matches!(self.kind, PoolKind::Average { .. }) {
            check_f32_average(&self.node, taps, shift)?;
        }
        let sum = worst_case(0, std::iter::repeat_n(1, taps), input.dtype.magnitude());
        let accumulator = match self.kind {
            PoolKind::Max => None,
            PoolKind::Average { .. } => Some(Accumulator::for_bound(&self.node, sum, false)?),
        };
        let kernel = Pool2d {
            kind: self.kind,
            accumulator,
            window: self.window.clone(),
            planes: self.planes,
            shift,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct Pool2d {
    kind: PoolKind,
    accumulator: Option<Accumulator>,
    window: Window,
    planes: usize,
    shift: i32,
    clamp: Clamp,
}

impl Kernel for Pool2d {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Pool)
    }

    /// Max pooling only moves values; averages round to the output's type.
    fn supports_int16(&self) -> bool {
        true
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        self.window.set(out);
        self.clamp.set(out);
        out.set("planes", self.planes);
        out.set(
            "divide_round",
            match out.output_type() {
                QType::I8 => "divide_round",
                QType::I16 => "divide_round_i16",
            },
        );
        out.set("shift", self.shift);
        match self.kind {
            PoolKind::Max => out.set("kind", "max"),
            PoolKind::Average { count_include_pad } => {
                out.set("kind", "average");
                // Without padding in the count, border windows divide by their valid taps.
                out.set(
                    "count_valid_taps",
                    !count_include_pad && self.window.needs_bounds_checks(),
                );
            }
        }
        out.describe(format!("{}, shift {}", self.window.describe(), self.shift));
        Ok(())
    }

    fn macs(&self) -> u64 {
        (self.planes
            * self.window.out_h
            * self.window.out_w
            * self.window.kernel[0]
            * self.window.kernel[1]) as u64
    }

    fn shift(&self) -> Option<i32> {
        (self.kind != PoolKind::Max).then_some(self.shift)
    }

    fn accumulator(&self) -> Option<Accumulator> {
        self.accumulator
    }
}
