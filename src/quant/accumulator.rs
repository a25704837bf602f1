//! The accumulator bound of docs/numerics.md: prove at codegen, from the real weights and biases and
//! the input range, that no accumulator can overflow. A layer whose worst case exceeds i32
//! accumulates in i64; one that exceeds even the i64 limit is an error naming the node.

use crate::error::{Error, Result};
use crate::onnx::Node;

/// The largest `|q|` of an int8 value.
pub const INT8_MAGNITUDE: u64 = 128;

/// The largest `|acc|` an i64 accumulator may reach: 2^62 leaves the headroom that
/// `requantize_i64`'s rounding needs (it adds up to `2^62` before shifting).
pub const I64_LIMIT: u128 = 1 << 62;

/// The worst-case `|acc|` of `acc = bias + sum_i x_i * w_i` over all inputs with
/// `|x_i| <= input_magnitude`: `|bias| + input_magnitude * sum_i |w_i|`. Every accumulating
/// kernel computes its bound with this one function (a sum of `n` inputs is `n` weights of 1,
/// an aligned input is a weight of `2^shift`).
pub fn worst_case(bias: i64, weights: impl IntoIterator<Item = i64>, input_magnitude: u64) -> u128 {
    let weights: u128 = weights.into_iter().map(|w| w.unsigned_abs() as u128).sum();
    bias.unsigned_abs() as u128 + input_magnitude as u128 * weights
}

/// Whether a layer may sum over offset weights (`w + 128`, stored as u8) in its i32
/// accumulator: not when its own bound already needs i64, and only if every partial sum fits.
/// The sum starts at `bias - 128 * sum(x)` and adds `(w + 128) * x` per input, with
/// `0 <= w + 128 <= 255`, so no partial sum exceeds
/// `|bias| + inputs * input_magnitude * (128 + 255)`.
pub fn offset_weights_fit_i32(
    accumulator: Accumulator,
    biases: &[i32],
    inputs: usize,
    input_magnitude: u64,
) -> bool {
    let worst = |bias: i32| {
        bias.unsigned_abs() as u128 + inputs as u128 * input_magnitude as u128 * (128 + 255)
    };
    !accumulator.wide && biases.iter().all(|&b| worst(b) <= i32::MAX as u128)
}

/// A layer's accumulator: its type and the worst-case `|acc|` it must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accumulator {
    pub bound: u64,
    pub wide: bool,
    /// The bias already holds the rounding offset (a float bias, see
    /// [`super::float_bias`]): requantize by a plain arithmetic shift.
    pub floor_shift: bool,
    /// The bias holds the integer part of a float bias whose sum f32 rounds (see
    /// [`super::float_bias`]): requantize by `requantize_f32_sum_*`, which adds each channel's
    /// fraction and rounds as f32 does.
    pub f32_sum: bool,
}

impl Accumulator {
    /// The accumulator for a worst case of `bound`: i32 when it fits, else i64 when
    /// `widen` (the kernel has an i64 form) and it is within [`I64_LIMIT`], else an error
    /// naming the node, the bound and the limit.
    pub fn for_bound(node: &Node, bound: u128, widen: bool) -> Result<Accumulator> {
        let limit = if widen { I64_LIMIT } else { i32::MAX as u128 };
        if bound > limit {
            return Err(Error::node(
                node,
                format!(
                    "the accumulator can reach |acc| = {bound}, beyond the {} limit {limit}; the weights, bias or input range are too large for exact integer arithmetic",
                    if widen { "i64" } else { "i32" }
                ),
            ));
        }
        Ok(Accumulator {
            bound: bound as u64,
            wide: bound > i32::MAX as u128,
            floor_shift: false,
            f32_sum: false,
        })
    }

    /// This i32 accumulator requantized by `requantize_floor_*`: its bias holds the rounding.
    pub fn with_floor_shift(self) -> Accumulator {
        Accumulator {
            floor_shift: true,
            ..self
        }
    }

    /// This i32 accumulator requantized by `requantize_f32_sum_*`.
    pub fn with_f32_sum(self) -> Accumulator {
        Accumulator {
            f32_sum: true,
            ..self
        }
    }

    /// The largest of several outputs' worst cases (one per output channel).
    pub fn for_bounds(
        node: &Node,
        bounds: impl IntoIterator<Item = u128>,
        widen: bool,
    ) -> Result<Accumulator> {
        Self::for_bound(node, bounds.into_iter().max().unwrap_or(0), widen)
    }

    /// Whether `shift_round_with_headroom` may round this accumulator: i32, every shift in
    /// `1..=31`, and `bound + 2^(shift - 1) <= i32::MAX` so that the rounding add cannot
    /// overflow.
    pub fn has_rounding_headroom(self, shifts: &[i32]) -> bool {
        !self.wide
            && !shifts.is_empty()
            && shifts.iter().all(|&s| {
                (1..=31).contains(&s) && self.bound + (1u64 << (s - 1)) <= i32::MAX as u64
            })
    }

    /// The header table's text: the bound, and the type when it is i64.
    pub fn describe(self) -> String {
        if self.wide {
            format!("{} (i64)", self.bound)
        } else {
            self.bound.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offset sum's worst case, `|b| + K * m * 383`, decides at the last unit: a bias one
    /// larger, one more input, or an i64 accumulator keeps the int8 rows.
    #[test]
    fn offset_weights_fit_up_to_the_last_unit_of_i32() {
        let narrow = Accumulator {
            bound: 0,
            wide: false,
            floor_shift: false,
            f32_sum: false,
        };
        let wide = Accumulator {
            wide: true,
            ..narrow
        };
        let edge = i32::MAX - 2 * 128 * 383;
        assert!(offset_weights_fit_i32(narrow, &[0, edge, -edge], 2, 128));
        assert!(!offset_weights_fit_i32(narrow, &[edge + 1], 2, 128));
        assert!(!offset_weights_fit_i32(narrow, &[-edge - 1], 2, 128));
        assert!(!offset_weights_fit_i32(narrow, &[edge], 3, 128));
        assert!(!offset_weights_fit_i32(wide, &[0], 2, 128));
        // int16 inputs: 32768 * 383 per input; a huge K never wraps (u128).
        assert!(offset_weights_fit_i32(narrow, &[0], 171, 32768));
        assert!(!offset_weights_fit_i32(narrow, &[0], 172, 32768));
        assert!(!offset_weights_fit_i32(narrow, &[0], usize::MAX, 32768));
    }

    #[test]
    fn rounding_headroom_needs_room_for_half_a_step() {
        let acc = |bound: u64| Accumulator {
            bound,
            wide: false,
            floor_shift: false,
            f32_sum: false,
        };
        // 2^31 - 1 - 2^6 leaves exactly room for shift 7's rounding add, not for shift 8's.
        let bound = i32::MAX as u64 - 64;
        assert!(acc(bound).has_rounding_headroom(&[7]));
        assert!(!acc(bound).has_rounding_headroom(&[7, 8]));
        // Shifts outside 1..=31 take the general helper.
        assert!(!acc(1000).has_rounding_headroom(&[0]));
        assert!(!acc(1000).has_rounding_headroom(&[-2]));
        assert!(!acc(1000).has_rounding_headroom(&[32]));
        assert!(acc(1000).has_rounding_headroom(&[31]));
        assert!(!Accumulator {
            bound: 1000,
            wide: true,
            floor_shift: false,
            f32_sum: false,
        }
        .has_rounding_headroom(&[7]));
    }

    fn node() -> Node {
        Node {
            name: "conv_7".into(),
            op_type: "Conv".into(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec![],
            attributes: Default::default(),
        }
    }

    #[test]
    fn bound_is_bias_plus_input_range_times_weight_magnitudes() {
        assert_eq!(worst_case(-5, [3, -4, 0], 128), 5 + 128 * 7);
        assert_eq!(
            worst_case(i32::MIN as i64, [127], 128),
            (1 << 31) + 128 * 127
        );
    }

    #[test]
    fn i32_then_i64_then_error() {
        let fits = Accumulator::for_bound(&node(), i32::MAX as u128, true).unwrap();
        assert!(!fits.wide);
        let wide = Accumulator::for_bound(&node(), i32::MAX as u128 + 1, true).unwrap();
        assert!(wide.wide);
        let e = Accumulator::for_bound(&node(), I64_LIMIT + 1, true).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("conv_7")
                && text.contains(&(I64_LIMIT + 1).to_string())
                && text.contains("i64 limit"),
            "{text}"
        );
        let e = Accumulator::for_bound(&node(), 1 << 31, false).unwrap_err();
        assert!(e.to_string().contains("i32 limit 2147483647"), "{e}");
    }
}
