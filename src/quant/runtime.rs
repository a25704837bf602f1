//! The integer helpers that every generated module carries, compiled here as well so that the
//! generator and its tests use the very same code (`templates/runtime.rs` is the one source).
//! The helpers read the module's `ROUND_HALF_UP`, so they are compiled once per rounding mode.

/// The helpers' source text, copied verbatim into generated modules.
pub const SOURCE: &str = include_str!("../../templates/runtime.rs");

/// The runtime helpers of a module generated with one rounding mode, with public wrappers.
macro_rules! runtime_with_rounding {
    ($module:ident, $half_up:expr) => {
        pub mod $module {
            #![allow(dead_code)]

            const ROUND_HALF_UP: bool = $half_up;

            include!("../../templates/runtime.rs");

            pub fn saturate(value: i64) -> i8 {
                saturate_i8(value)
            }

            pub fn requantize(acc: i32, shift: i32) -> i8 {
                requantize_i8(acc, shift)
            }

            pub fn round_shift(value: i32, shift: i32) -> i64 {
                shift_round(value, shift)
            }

            pub fn round_shift_with_headroom(value: i32, shift: i32) -> i32 {
                shift_round_with_headroom(value, shift)
            }

            pub fn requantize_float_bias_sum(acc: i32, step: i32) -> i16 {
                requantize_f32_sum_i16::<-32768, 32767>(acc, step)
            }

            pub fn requantize_wide(acc: i64, shift: i32) -> i8 {
                requantize_i64(acc, shift)
            }

            pub fn average(sum: i32, shift: i32, count: i32) -> i8 {
                divide_round(sum, shift, count)
            }

            pub fn average_i16(sum: i32, shift: i32, count: i32) -> i16 {
                divide_round_i16(sum, shift, count)
            }

            pub fn quotient(numerator: i64, denominator: i64) -> i8 {
                round_quotient(numerator, denominator)
            }

            pub fn square_root(sum: i64, shift: i32) -> i8 {
                sqrt_round(sum, shift)
            }

            pub fn square_root_i16(sum: i64, shift: i32) -> i16 {
                saturate_i16(sqrt_round_wide(sum, shift))
            }

            pub fn quantize(x: f32, inverse_scale: f32) -> i8 {
                quantize_i8(x, inverse_scale)
            }

            pub fn ln(x: i64) -> f64 {
                ln_f64(x)
            }

            pub fn square_root_f32(v: f32) -> f32 {
                sqrt_f32(v)
            }

            pub fn sigmoid_q24(z: i32, table: &[i32; 1025]) -> i32 {
                activation_q24::<18>(z, table, true)
            }

            pub fn tanh_q24(z: i32, table: &[i32; 1025]) -> i32 {
                activation_q24::<17>(z, table, false)
            }

            pub fn product_q24(a: i32, b: i32) -> i32 {
                mul_q24(a, b)
            }
        }
    };
}

runtime_with_rounding!(half_even, false);
runtime_with_rounding!(half_up, true);

pub use half_even::*;

#[cfg(test)]
mod tests {
    use super::*;

    /// Ties under half-up go toward +infinity, in every helper; non-ties are unchanged.
    #[test]
    fn half_up_ties_go_toward_plus_infinity() {
        use super::half_up;
        // acc = -3, shift 1: -1.5 -> -1 (half to even: -2); 3 -> 1.5 -> 2; 5 -> 2.5 -> 3.
        assert_eq!(half_up::round_shift(-3, 1), -1);
        assert_eq!(round_shift(-3, 1), -2);
        assert_eq!(half_up::round_shift(3, 1), 2);
        assert_eq!(half_up::round_shift(5, 1), 3);
        assert_eq!(round_shift(5, 1), 2);
        assert_eq!(half_up::round_shift(-5, 1), -2);
        assert_eq!(half_up::round_shift(-2, 2), 0); // -0.5 -> 0
        assert_eq!(half_up::round_shift(2, 2), 1); // 0.5 -> 1
        assert_eq!(half_up::requantize(255, 1), 127); // 127.5 -> 128, saturated
        assert_eq!(half_up::requantize(-257, 1), -128); // -128.5 -> -128
        for shift in 1..12 {
            for value in -5000..5000 {
                let expected = (value as f64 / (1u64 << shift) as f64 + 0.5).floor() as i64;
                assert_eq!(
                    half_up::round_shift(value, shift),
                    expected,
                    "{value} >> {shift}"
                );
            }
        }
        assert_eq!(half_up::round_shift(i32::MAX, 1), 1 << 30);
        assert_eq!(half_up::round_shift(i32::MIN, 1), -(1 << 30));
        // Division: -10 / 4 = -2.5 -> -2, 10 / 4 -> 3; 14 / 4 = 3.5 -> 4 in both modes.
        assert_eq!(half_up::average(-10, 0, 4), -2);
        assert_eq!(half_up::average(10, 0, 4), 3);
        assert_eq!(half_up::average(14, 0, 4), 4);
        assert_eq!(half_up::quotient(-3, 2), -1);
        assert_eq!(quotient(-3, 2), -2);
        // Square root: sqrt(25) / 2 = 2.5 -> 3 (half to even: 2).
        assert_eq!(half_up::square_root(25, 1), 3);
        // f32 quantization: -0.09375 at 2^-4 is -1.5 -> -1; 0.03125 is 0.5 -> 1.
        let s = 2f32.powi(4);
        assert_eq!(half_up::quantize(-0.09375, s), -1);
        assert_eq!(half_up::quantize(0.03125, s), 1);
        assert_eq!(half_up::quantize(-0.03125, s), 0);
        assert_eq!(half_up::quantize(7.96875, s), 127);
        for i in -3000..3000 {
            let x = i as f32 * 0.013;
            let expected = ((x * s + 0.5).floor() as i64).clamp(-128, 127) as i8;
            assert_eq!(half_up::quantize(x, s), expected, "{x}");
        }
    }

    #[test]
    fn sqrt_f32_is_correctly_rounded() {
        let mut bits: u32 = 1;
        while bits < 0x7f80_0000 {
            let v = f32::from_bits(bits);
            assert_eq!(
                square_root_f32(v).to_bits(),
                v.sqrt().to_bits(),
                "sqrt({v:e})"
            );
            bits = bits.wrapping_add(9973);
        }
        for v in [
            0.0f32,
            1.0,
            2.0,
            4.0,
            1e-5,
            0.25,
            3.0,
            f32::MAX,
            f32::MIN_POSITIVE,
        ] {
            assert_eq!(
                square_root_f32(v).to_bits(),
                v.sqrt().to_bits(),
                "sqrt({v:e})"
            );
        }
        assert!(square_root_f32(-1.0).is_nan());
    }

    #[test]
    fn ln_matches_std_to_a_few_ulp() {
        let samples = (1..5000i64).chain((0..62).map(|k| (1i64 << k) + 12345 % (1i64 << k).max(1)));
        for x in samples {
            let (got, want) = (ln(x), (x as f64).ln());
            assert!(
                (got - want).abs() <= 4.0 * f64::EPSILON * want.abs().max(1.0),
                "ln({x}): {got} vs {want}"
            );
        }
        assert_eq!(ln(1), 0.0);
    }

    #[test]
    fn shift_of_zero_is_identity_then_saturation() {
        assert_eq!(requantize(5, 0), 5);
        assert_eq!(requantize(-128, 0), -128);
        assert_eq!(requantize(128, 0), 127);
        assert_eq!(requantize(-129, 0), -128);
    }

    #[test]
    fn ties_round_to_even() {
        // 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4 (shift 1: values 5, 7, -5, -7).
        assert_eq!(round_shift(5, 1), 2);
        assert_eq!(round_shift(7, 1), 4);
        assert_eq!(round_shift(-5, 1), -2);
        assert_eq!(round_shift(-7, 1), -4);
        // 0.5 -> 0 and -0.5 -> 0 (shift 2: 2/4).
        assert_eq!(round_shift(2, 2), 0);
        assert_eq!(round_shift(-2, 2), 0);
        assert_eq!(round_shift(6, 2), 2); // 1.5 -> 2
    }

    #[test]
    fn non_ties_round_to_nearest() {
        assert_eq!(round_shift(9, 2), 2); // 2.25
        assert_eq!(round_shift(11, 2), 3); // 2.75
        assert_eq!(round_shift(-9, 2), -2);
        assert_eq!(round_shift(-11, 2), -3);
    }

    #[test]
    fn matches_float_reference_on_a_sweep() {
        for shift in 1..12 {
            for value in -5000..5000 {
                let expected = (value as f64 / (1u64 << shift) as f64).round_ties_even() as i64;
                assert_eq!(round_shift(value, shift), expected, "{value} >> {shift}");
            }
        }
        // Every shift up to past 32, at the ends of the i32 range and at ties around them
        // (f64 holds value * 2^-shift exactly).
        let mut values = vec![i32::MIN, i32::MIN + 1, i32::MAX, i32::MAX - 1, -1, 0, 1];
        for s in 0..31 {
            let p = 1i32 << s;
            values.extend([
                p,
                p - 1,
                p + 1,
                -p,
                -p + 1,
                -p - 1,
                3 * (p / 2),
                -3 * (p / 2),
            ]);
        }
        for shift in 1..40 {
            for &value in &values {
                let exact = value as f64 / 2f64.powi(shift);
                let even = exact.round_ties_even() as i64;
                let up = (exact + 0.5).floor() as i64;
                assert_eq!(round_shift(value, shift), even, "{value} >> {shift}");
                assert_eq!(half_up::round_shift(value, shift), up, "{value} >> {shift}");
            }
        }
    }

    /// The one-add rounding equals the general one wherever its precondition holds
    /// (`|value| + 2^(shift-1) <= i32::MAX`), in both rounding modes, up to that limit.
    #[test]
    fn rounding_with_headroom_equals_the_general_rounding() {
        for shift in 1..32 {
            let limit = i32::MAX - (1i32 << (shift - 1));
            let mut values: Vec<i32> = (-3000..3000).collect();
            for k in 0..64 {
                let step = (limit / 64).max(1);
                values.extend([limit - k, -limit + k, k * step, -k * step]);
                // Ties and their neighbours at the largest multiples of 2^shift.
                let tie = ((limit >> shift) - k).max(0) * (1 << shift) + (1 << (shift - 1));
                values.extend([tie, tie - 1, -tie, -tie + 1]);
            }
            for &value in values.iter().filter(|v| v.unsigned_abs() <= limit as u32) {
                assert_eq!(
                    round_shift_with_headroom(value, shift) as i64,
                    round_shift(value, shift),
                    "{value} >> {shift}"
                );
                assert_eq!(
                    half_up::round_shift_with_headroom(value, shift) as i64,
                    half_up::round_shift(value, shift),
                    "{value} >> {shift} (half-up)"
                );
            }
        }
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        assert_eq!(round_shift(i32::MAX, 1), 1 << 30);
        assert_eq!(round_shift(i32::MIN, 1), -(1 << 30));
        assert_eq!(round_shift(i32::MAX, 63), 0);
        assert_eq!(round_shift(i32::MIN, 200), 0);
        assert_eq!(requantize(i32::MAX, -40), 127);
        assert_eq!(requantize(i32::MIN, -40), -128);
        assert_eq!(requantize(1, -3), 8);
        assert_eq!(requantize(-1, -7), -128);
        assert_eq!(requantize(1, -7), 127);
    }

    #[test]
    fn wide_requantization_matches_the_narrow_one_and_exact_rounding() {
        for shift in -40..70 {
            for value in [
                -70_000, -5, -2, -1, 0, 1, 2, 3, 5, 6, 7, 9, 11, 4096, 70_000,
            ] {
                assert_eq!(
                    requantize_wide(value as i64, shift),
                    requantize(value, shift),
                    "{value} {shift}"
                );
            }
        }
        let big: i64 = 1 << 62;
        assert_eq!(requantize_wide(big, 62), 1);
        assert_eq!(requantize_wide(big, 63), 0); // 0.5 -> 0
        assert_eq!(requantize_wide(-big, 63), 0);
        assert_eq!(requantize_wide(3 << 60, 61), 2); // 1.5 -> 2
        assert_eq!(requantize_wide(5 << 59, 60), 2); // 2.5 -> 2
        assert_eq!(requantize_wide(-(5 << 59), 60), -2);
        assert_eq!(requantize_wide(big, 200), 0);
        assert_eq!(requantize_wide(big, 0), 127);
        assert_eq!(requantize_wide(-big, -100), -128);
        assert_eq!(requantize_wide(-1, -7), -128);
        for shift in 30..40 {
            for value in (-600i64..600).map(|v| v * 1_234_567_891) {
                let expected = (value as f64 * 2f64.powi(-shift))
                    .round_ties_even()
                    .clamp(-128.0, 127.0) as i8;
                assert_eq!(requantize_wide(value, shift), expected, "{value} {shift}");
            }
        }
    }

    #[test]
    fn square_root_rounds_the_exact_root() {
        assert_eq!(square_root(0, 0), 0);
        assert_eq!(square_root(16, 0), 4);
        assert_eq!(square_root(9, 1), 2); // 1.5 -> 2
        assert_eq!(square_root(25, 1), 2); // 2.5 -> 2
        assert_eq!(square_root(1 << 30, 0), 127);
        for shift in -9..12 {
            for sum in 0..5000i64 {
                let exact = (sum as f64).sqrt() * 2f64.powi(-shift);
                let expected = (exact.round_ties_even() as i64).clamp(-128, 127) as i8;
                assert_eq!(square_root(sum, shift), expected, "{sum} {shift}");
            }
        }
    }

    /// Over the int16 range, against f64 (exact here: a root of an integer below 2^40 is
    /// either a tie, represented exactly, or far from one), from shifts that saturate
    /// everything to those that round everything to 0.
    #[test]
    fn wide_square_root_rounds_the_exact_root() {
        assert_eq!(square_root_i16(25, 1), 2); // 2.5 -> 2
        assert_eq!(half_up::square_root_i16(25, 1), 3);
        assert_eq!(square_root_i16(0, -100), 0);
        assert_eq!(square_root_i16(1, -100), 32767);
        assert_eq!(square_root_i16((1 << 40) - 1, 50), 0);
        assert_eq!(square_root_i16((1 << 40) - 1, 0), 32767);
        let sums = (0..3000i64)
            .chain((0..3000).map(|k| (1 << 30) - 1500 + k))
            .chain((0..2000).map(|k| k * k * 4 + (k & 1)))
            .chain((0..2000).map(|k| ((1i64 << 40) - 1) / (k + 1)));
        for sum in sums {
            for shift in -17..45 {
                let exact = (sum as f64).sqrt() * 2f64.powi(-shift);
                let expected = exact.round_ties_even().clamp(-32768.0, 32767.0) as i16;
                assert_eq!(square_root_i16(sum, shift), expected, "{sum} {shift}");
            }
        }
    }

    #[test]
    fn average_rounds_the_exact_quotient() {
        assert_eq!(average(10, 0, 4), 2); // 2.5 -> 2
        assert_eq!(average(14, 0, 4), 4); // 3.5 -> 4
        assert_eq!(average(-10, 0, 4), -2);
        assert_eq!(average(-14, 0, 4), -4);
        assert_eq!(average(10, 0, 3), 3); // 3.33
        assert_eq!(average(11, 0, 3), 4); // 3.67
        assert_eq!(average(10, 1, 1), 5);
        assert_eq!(average(3, -1, 2), 3);
        assert_eq!(average(1000, 0, 1), 127);
        assert_eq!(average(-1000, 0, 1), -128);
        for count in 1..20 {
            for shift in -3..4 {
                for sum in -300..300 {
                    let exact = sum as f64 * 2f64.powi(-shift) / count as f64;
                    let expected = (exact.round_ties_even() as i64).clamp(-128, 127) as i8;
                    assert_eq!(
                        average(sum, shift, count),
                        expected,
                        "{sum} {shift} {count}"
                    );
                }
            }
        }
    }

    #[test]
    fn int16_average_rounds_the_exact_quotient_and_saturates_at_int16() {
        assert_eq!(average_i16(10, 0, 4), 2);
        assert_eq!(average_i16(14, 0, 4), 4);
        assert_eq!(average_i16(1000, 0, 1), 1000);
        assert_eq!(average_i16(-40000, 0, 1), -32768);
        assert_eq!(average_i16(40000, 0, 1), 32767);
        assert_eq!(average_i16(i32::MIN, -32, 1), -32768);
        assert_eq!(half_up::average_i16(-10, 0, 4), -2); // -2.5 -> -2 (toward +inf)
        for count in 1..20 {
            for shift in -3..4 {
                for sum in (-70_000..70_000).step_by(7) {
                    let exact = sum as f64 * 2f64.powi(-shift) / count as f64;
                    let expected = (exact.round_ties_even() as i64).clamp(-32768, 32767) as i16;
                    assert_eq!(
                        average_i16(sum, shift, count),
                        expected,
                        "{sum} {shift} {count}"
                    );
                }
            }
        }
    }

    #[test]
    fn quantize_matches_onnx_quantize_linear() {
        let s = 2f32.powi(4); // scale 2^-4
        assert_eq!(quantize(0.03125, s), 0); // 0.5 -> 0
        assert_eq!(quantize(0.09375, s), 2); // 1.5 -> 2
        assert_eq!(quantize(-0.03125, s), 0);
        assert_eq!(quantize(-0.09375, s), -2);
        assert_eq!(quantize(100.0, s), 127);
        assert_eq!(quantize(-100.0, s), -128);
        assert_eq!(quantize(f32::INFINITY, s), 127);
        assert_eq!(quantize(f32::NEG_INFINITY, s), -128);
        assert_eq!(quantize(f32::NAN, s), -128);
        assert_eq!(quantize(7.96875, s), 127); // 127.5 saturates
        for i in -3000..3000 {
            let x = i as f32 * 0.013;
            let expected = ((x * s).round_ties_even() as i64).clamp(-128, 127) as i8;
            assert_eq!(quantize(x, s), expected, "{x}");
        }
    }

    /// ONNX Runtime's `rhe(fl32(q * 2^E + b) * 2^-(E + shift))` in f32 itself, saturated
    /// to int16, for `|q| < 2^24` (so `q` converts exactly).
    fn f32_level(q: i32, bias: f32, e: i32, shift: i32) -> i16 {
        let sum = q as f32 * 2f32.powi(e) + bias;
        (sum * 2f32.powi(-(e + shift)))
            .round_ties_even()
            .clamp(-32768.0, 32767.0) as i16
    }

    /// The step and integer bias the generator gives `requantize_f32_sum` for `bias` at
    /// accumulator exponent `e` (see `float_bias::fraction`).
    fn f32_sum_operands(bias: f32, e: i32, shift: i32) -> (i32, i32) {
        let channel = crate::quant::float_bias::Channel {
            bias: bias as f64,
            acc_exponent: e,
            shift,
            reach: 0,
        };
        let integer = (bias as f64 * 2f64.powi(-e)).floor() as i32;
        let fraction = crate::quant::float_bias::fraction(&channel) as i32;
        (integer, fraction << 5 | shift)
    }

    #[test]
    fn f32_sum_is_f32_arithmetic() {
        let mut biases = vec![0.0f32, 0.3, -0.3, 0.5, -0.5, 2.75, -0.325_747_25];
        // Just either side of ties and grid points of several grids, and tiny biases.
        for base in [
            0.5f32,
            1.5,
            -2.5,
            0.25,
            3.0,
            -7.0,
            2f32.powi(-30),
            -2f32.powi(-40),
        ] {
            for ulps in -3i32..=3 {
                biases.push(f32::from_bits((base.to_bits() as i32 + ulps) as u32));
            }
        }
        let mut checked = 0u64;
        for &bias in &biases {
            for e in [-20, -16, -9, -3] {
                for shift in [1, 2, 5, 11, 17, 31] {
                    let bias = bias * 2f32.powi(e + shift.min(8));
                    let (integer, step) = f32_sum_operands(bias, e, shift);
                    // Every acc near zero, and both sides of every binade edge up to 2^23.
                    let edges = (1..24).flat_map(|k| {
                        let p = 1i32 << k;
                        (-3..=3).flat_map(move |d| [p + d, -p + d])
                    });
                    for q in (-4096..=4096).chain(edges) {
                        let expected = f32_level(q, bias, e, shift);
                        let got = requantize_float_bias_sum(q.wrapping_add(integer), step);
                        assert_eq!(got, expected, "q {q} bias {bias:e} e {e} shift {shift}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 5_000_000, "{checked}");
    }
}
