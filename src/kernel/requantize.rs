//! How an accumulating layer's requantization reaches its template: the accumulator type and
//! the runtime helper that rounds, saturates and clamps (see `templates/runtime.rs`).

use super::{Clamp, KernelEmit};
use crate::quant::accumulator::Accumulator;
use crate::quant::QType;

impl Accumulator {
    /// Template variables: `acc`, the accumulator type (`i32` or `i64`), and `requantize`,
    /// the helper that rounds it to the output's type, with the fused `clamp` (see
    /// [`Clamp::set`]), for a layer whose output channels shift by `shifts`:
    /// - `requantize_bounded_*::<LO, HI>` when the bound leaves room for rounding by one add
    ///   ([`Accumulator::has_rounding_headroom`]); it saturates and clamps in one step;
    /// - else `requantize_within_*::<LO, HI>` for an i32 accumulator with a clamp;
    /// - else the plain helper. `clamp` is empty when the helper applies it.
    ///
    /// A floor-shift accumulator takes `requantize_floor_*::<LO, HI>` (an arithmetic shift),
    /// an f32-sum one `requantize_f32_sum_*::<LO, HI>` (its `shift` argument is the channel's
    /// step, see [`super::Shifts::with_f32_sum_fractions`]).
    pub fn set(self, out: &mut KernelEmit, clamp: Clamp, shifts: &[i32]) {
        clamp.set(out);
        let ty = out.output_type();
        if self.floor_shift || self.f32_sum {
            // A Clip with min > max keeps its two calls after the type's range.
            let (lo, hi) = if clamp.lo <= clamp.hi {
                out.set("clamp", "");
                (clamp.lo, clamp.hi)
            } else {
                ty.range()
            };
            out.set("acc", "i32");
            out.set(
                "requantize",
                format!(
                    "requantize_{}_{}::<{lo}, {hi}>",
                    if self.f32_sum { "f32_sum" } else { "floor" },
                    ty.rust()
                ),
            );
            return;
        }
        if self.has_rounding_headroom(shifts) && clamp.lo <= clamp.hi {
            let bounded = format!(
                "requantize_bounded_{}::<{}, {}>",
                ty.rust(),
                clamp.lo,
                clamp.hi
            );
            out.set("acc", "i32");
            out.set("requantize", bounded);
            out.set("clamp", "");
            return;
        }
        let (ty, requantize) = match (self.wide, out.output_type()) {
            (false, QType::I8) => ("i32", "requantize_i8"),
            (true, QType::I8) => ("i64", "requantize_i64"),
            (false, QType::I16) => ("i32", "requantize_i16"),
            (true, QType::I16) => ("i64", "requantize_i64_to_i16"),
        };
        out.set("acc", ty);
        // A Clip with min > max (all outputs are max) keeps its two calls.
        if !self.wide && !clamp.is_none() && clamp.lo <= clamp.hi {
            let within = format!(
                "requantize_within_{}::<{}, {}>",
                out.output_type().rust(),
                clamp.lo,
                clamp.hi
            );
            out.set("requantize", within);
            out.set("clamp", "");
        } else {
            out.set("requantize", requantize);
        }
    }
}
