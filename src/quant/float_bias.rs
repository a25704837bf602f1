//! Float biases, bit-exact with ONNX Runtime.
//!
//! ONNX Runtime runs `DequantizeLinear -> Conv/Gemm (f32 bias) -> QuantizeLinear` in f32: the
//! int8 products of power-of-two scales and their sum are exact (an integer `acc` at the
//! accumulator exponent `E`), the f32 bias `b` is added and the sum is rounded once to f32,
//! then QuantizeLinear rounds half to even to the output exponent `ey`:
//! `y = sat(rhe(fl32(acc * 2^E + b) * 2^-ey))`.
//!
//! For one output channel that is a monotone step function of the integer `acc`, and so is
//! each integer pipeline a kernel can run. Two monotone step functions agree on an interval
//! iff they agree at its lower end and reach every output level at the same `acc`; there are
//! at most 2^16 levels and each threshold is a binary search. [`plan`] runs that proof over
//! every `acc` a channel can reach and keeps the first pipeline that passes:
//! - [`BiasRounding::HalfEven`]: the bias rounded half to even at `E`, then the usual
//!   half-to-even shift. Exact when the bias lies on the accumulator grid (ties then fall
//!   where ORT's do).
//! - [`BiasRounding::Floor`]: a bias off the grid never puts the exact sum on a tie, so ORT's
//!   steps are evenly spaced; `floor((acc + C) / 2^s)` with `C = floor(b * 2^-E) + 2^(s-1)`
//!   reproduces them with a plain arithmetic shift.
//! - [`BiasRounding::F32Sum`]: f32's rounding of the sum itself, emulated in integers for a
//!   bias close enough to a tie that f32 moves some steps (neither pipeline above then fits).
//!   The accumulator holds `acc + floor(b * 2^-E)`; the channel's fraction `f` of the bias
//!   below `2^E` is kept in [`FRACTION_BITS`] bits, rounded to odd (its 24 top bits, plus a
//!   sticky last bit when anything below is nonzero), so that
//!   `n = (acc + floor(b * 2^-E)) * 2^25 + f` lies strictly between the same two multiples of
//!   `2^-24` (in units of `2^E`) as the exact sum. Every f32 rounding boundary of a sum with
//!   `|sum| >= 2^E` is such a multiple, so rounding `n` to 24 significant bits half to even
//!   gives f32's sum; a smaller sum gives level 0 either way (the shift is at least 1). Then
//!   the half-to-even shift by `25 + s`. The run time (`requantize_f32_sum` in the module's
//!   helpers) does this in i64 with a leading-zero count, and the proof checks it like the
//!   others.

use crate::error::{Error, Result};
use crate::onnx::Node;

/// How a layer's integer pipeline rounds its float-bias accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BiasRounding {
    /// `sat(rhe((acc + B) * 2^-s))`, `B = rhe(b * 2^-E)`: the pipeline of integer biases.
    HalfEven,
    /// `sat((acc + C) >> s)`: the rounding offset is folded into `C`.
    Floor,
    /// `sat(rhe(fl32((acc + C) * 2^25 + f) * 2^-(25 + s)))` with `C = floor(b * 2^-E)` and the
    /// bias's fraction `f` (see [`fraction`]), `fl32` rounding to 24 significant bits.
    F32Sum,
}

/// The bits of a bias's fraction below the accumulator grid that [`BiasRounding::F32Sum`]
/// keeps: 24 to place f32's rounding boundaries, one sticky bit.
pub const FRACTION_BITS: i32 = 25;

/// A layer's pipeline, each channel's integer bias for it and, for
/// [`BiasRounding::F32Sum`], each channel's fraction (see [`fraction`]; empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub rounding: BiasRounding,
    pub biases: Vec<i64>,
    pub fractions: Vec<i64>,
}

/// One output channel of a layer with a float bias.
#[derive(Debug, Clone, Copy)]
pub struct Channel {
    /// The f32 bias value.
    pub bias: f64,
    /// The accumulator exponent `E = ex + ew`.
    pub acc_exponent: i32,
    /// The requantization shift `s = ey - E`.
    pub shift: i32,
    /// The largest `|acc|` the products can reach (the bias not included).
    pub reach: u64,
}

/// The layer's pipeline and each channel's integer bias for it, proven equal to ONNX
/// Runtime's f32 arithmetic on every reachable accumulator; outputs are compared after the
/// clamp to `[lo, hi]` (the output type's range, or a fused Relu/Clip within it).
pub fn plan(node: &Node, channels: &[Channel], lo: i64, hi: i64) -> Result<Plan> {
    if let Some((index, c)) = channels
        .iter()
        .enumerate()
        .find(|(_, c)| !within_int32(scaled_bias(c)))
    {
        return Err(Error::node(
            node,
            format!(
                "the float bias {} of output channel {index} does not fit in int32 at accumulator exponent {}",
                c.bias, c.acc_exponent
            ),
        ));
    }
    let first_failure = |pipeline| {
        channels.iter().position(|c| {
            let bias = integer_bias(pipeline, c);
            let fraction = fraction(c);
            !agrees(
                c,
                |acc| pipeline_output(pipeline, c, bias, fraction, acc),
                lo,
                hi,
            )
        })
    };
    let chosen = |rounding| Plan {
        rounding,
        biases: channels.iter().map(|c| integer_bias(rounding, c)).collect(),
        fractions: match rounding {
            BiasRounding::F32Sum => channels.iter().map(fraction).collect(),
            _ => Vec::new(),
        },
    };
    let Some(failed) = first_failure(BiasRounding::HalfEven) else {
        return Ok(chosen(BiasRounding::HalfEven));
    };
    // Both integer pipelines after it shift an i32 by 1..=31.
    if channels.iter().all(|c| (1..=31).contains(&c.shift)) {
        // The cheaper first: a plain shift, then the emulation of f32's rounding.
        for rounding in [BiasRounding::Floor, BiasRounding::F32Sum] {
            if first_failure(rounding).is_none() {
                return Ok(chosen(rounding));
            }
        }
    }
    let c = &channels[failed];
    Err(Error::node(
        node,
        format!(
            "the float bias {} of output channel {failed} cannot be added exactly as ONNX Runtime does: \
             at accumulator exponent {} and shift {}, f32's rounding of the sum moves an output step \
             that no integer pipeline of this layer reproduces; quantize the bias to int32 at the \
             accumulator scale (input scale times weight scale), or generate with `--rounding half-up`",
            c.bias, c.acc_exponent, c.shift
        ),
    ))
}

/// `b * 2^-E`, the bias in accumulator units (exact: a power-of-two scaling); NaN when it is
/// not finite.
fn scaled_bias(c: &Channel) -> f64 {
    if c.bias == 0.0 {
        0.0
    } else {
        c.bias * 2f64.powi(-c.acc_exponent)
    }
}

/// Whether `|x| < 2^31` (false for NaN).
fn within_int32(x: f64) -> bool {
    x.abs() < 2f64.powi(31)
}

/// The integer bias that `pipeline` adds to the accumulator.
fn integer_bias(pipeline: BiasRounding, c: &Channel) -> i64 {
    match pipeline {
        BiasRounding::HalfEven => half_even_bias(c),
        BiasRounding::Floor => floor_bias(c),
        BiasRounding::F32Sum => scaled_bias(c).floor() as i64,
    }
}

/// The bias's fraction below the accumulator grid, `b * 2^-E - floor(b * 2^-E)`, in units of
/// `2^-FRACTION_BITS`, rounded to odd: its top 24 bits, and a last bit set when any bit below
/// them is (both products and the difference are exact in f64).
pub fn fraction(c: &Channel) -> i64 {
    let scaled = c.bias * 2f64.powi(-c.acc_exponent);
    let top = (scaled - scaled.floor()) * 2f64.powi(FRACTION_BITS - 1);
    2 * top.floor() as i64 + i64::from(top != top.floor())
}

/// `rhe(b * 2^-E)`, the bias on the accumulator grid.
fn half_even_bias(c: &Channel) -> i64 {
    scaled_bias(c).round_ties_even() as i64
}

/// `floor(b * 2^-E) + 2^(s-1)`: `floor((acc + C) / 2^s) = rhe((acc + b * 2^-E) / 2^s)` for
/// every integer `acc` when the sum never lies on a tie.
fn floor_bias(c: &Channel) -> i64 {
    // |b * 2^-E| < 2^31 and 1 <= s <= 31 (checked by `plan`): no overflow.
    scaled_bias(c).floor() as i64 + (1i64 << (c.shift - 1))
}

/// The integer pipeline's output level for `acc`, with the channel's integer bias (and
/// fraction, for [`BiasRounding::F32Sum`]).
fn pipeline_output(pipeline: BiasRounding, c: &Channel, bias: i64, fraction: i64, acc: i64) -> i64 {
    let value = acc as i128 + bias as i128;
    let level = match pipeline {
        BiasRounding::HalfEven => shift_half_even(value, c.shift),
        BiasRounding::Floor => value >> c.shift,
        BiasRounding::F32Sum => {
            let (rounded, at) = round_to_f32((value << FRACTION_BITS) + fraction as i128, 0);
            shift_half_even(rounded, FRACTION_BITS + c.shift - at)
        }
    };
    level.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `rhe(value * 2^-shift)`; a negative shift is exact (capped where every level saturates).
fn shift_half_even(value: i128, shift: i32) -> i128 {
    if shift <= 0 {
        // |value| < 2^63: beyond 2^40 every nonzero value saturates any output type.
        return value << (-shift).min(40);
    }
    if shift > 100 {
        return 0;
    }
    let kept = value >> shift;
    let rest = value - (kept << shift);
    let half = 1i128 << (shift - 1);
    if rest > half || (rest == half && kept & 1 == 1) {
        kept + 1
    } else {
        kept
    }
}

/// ONNX Runtime's output level for `acc`: `rhe(fl32(acc * 2^E + b) * 2^-ey)`.
pub fn reference_output(c: &Channel, acc: i64) -> i64 {
    let e = c.acc_exponent;
    // The exact sum as an integer `n` at exponent `g`.
    let (mantissa, exponent) = decompose(c.bias);
    // A bias more than 60 bits below the accumulator grid (so below 2^(E-36)) only breaks
    // f32 ties, by its sign: a same-signed stand-in there rounds every sum alike, and keeps
    // `acc << (E - g)` within i128 for |acc| < 2^63.
    let (mantissa, exponent) = if mantissa != 0 && exponent < e - 60 {
        (mantissa.signum(), e - 60)
    } else {
        (mantissa, exponent)
    };
    let g = if mantissa == 0 { e } else { e.min(exponent) };
    let n = ((acc as i128) << (e - g)) + ((mantissa as i128) << (exponent.max(g) - g));
    let (rounded, at) = round_to_f32(n, g);
    // rounded * 2^at in units of 2^ey.
    let ey = e + c.shift;
    let level = shift_half_even(rounded, ey - at);
    level.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// An f64 as `mantissa * 2^exponent` with an odd mantissa (or zero).
fn decompose(x: f64) -> (i64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (0, 0);
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = (bits & ((1 << 52) - 1)) as i64;
    let (mut mantissa, mut exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    let zeros = mantissa.trailing_zeros();
    mantissa >>= zeros;
    exponent += zeros as i32;
    (if x < 0.0 { -mantissa } else { mantissa }, exponent)
}

/// `n * 2^g` rounded to 24 significant bits, half to even (f32's rounding of a normal
/// number), as `(m, e)` with the value `m * 2^e`.
fn round_to_f32(n: i128, g: i32) -> (i128, i32) {
    let magnitude = n.unsigned_abs();
    let bits = 128 - magnitude.leading_zeros() as i32;
    if bits <= 24 {
        return (n, g);
    }
    let drop = bits - 24;
    let mut kept = magnitude >> drop;
    let rest = magnitude & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    if rest > half || (rest == half && kept & 1 == 1) {
        kept += 1;
    }
    let kept = kept as i128;
    (if n < 0 { -kept } else { kept }, g + drop)
}

/// Whether `candidate` equals ONNX Runtime's output, clamped to `[lo, hi]`, for every
/// `|acc| <= reach`: the same value at `-reach`, and every level above it first reached at
/// the same `acc` (both functions are monotone).
fn agrees(c: &Channel, candidate: impl Fn(i64) -> i64, lo: i64, hi: i64) -> bool {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, hi) };
    let reference = |acc| reference_output(c, acc).clamp(lo, hi);
    let candidate = |acc| candidate(acc).clamp(lo, hi);
    let start = -(c.reach.min(i64::MAX as u64) as i64);
    let end = -start;
    if reference(start) != candidate(start) || reference(end) != candidate(end) {
        return false;
    }
    (reference(start) + 1..=reference(end)).all(|level| {
        // The smallest acc in (start, end] whose reference reaches `level`.
        let (mut below, mut at) = (start, end);
        while at - below > 1 {
            let middle = below + (at - below) / 2;
            if reference(middle) >= level {
                at = middle;
            } else {
                below = middle;
            }
        }
        candidate(at) >= level && candidate(at - 1) < level
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        Node {
            name: "fc".into(),
            op_type: "Gemm".into(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec![],
            attributes: Default::default(),
        }
    }

    /// ORT's function computed the slow way, in f32 itself.
    fn f32_reference(c: &Channel, acc: i64) -> i64 {
        let sum = (acc as f32) * 2f32.powi(c.acc_exponent) + c.bias as f32;
        let level = (sum * 2f32.powi(-(c.acc_exponent + c.shift))).round_ties_even();
        level as i64
    }

    #[test]
    fn reference_is_f32_arithmetic() {
        for (bias, e, s) in [
            (0.3f32, -10, 4),
            (-0.0371, -12, 7),
            (5e-4, -9, 3),
            (0.0, -8, 2),
        ] {
            let c = Channel {
                bias: bias as f64,
                acc_exponent: e,
                shift: s,
                reach: 5000,
            };
            for acc in -5000..=5000 {
                assert_eq!(
                    reference_output(&c, acc),
                    f32_reference(&c, acc),
                    "{c:?} {acc}"
                );
            }
        }
    }

    #[test]
    fn on_grid_bias_keeps_the_half_even_pipeline() {
        // 0.25 at E = -4 is 4 units: ties of the sum fall where ORT's do.
        let c = Channel {
            bias: 0.25,
            acc_exponent: -4,
            shift: 3,
            reach: 3000,
        };
        let plan = plan(&node(), &[c], -128, 127).unwrap();
        assert_eq!(
            (plan.rounding, plan.biases),
            (BiasRounding::HalfEven, vec![4])
        );
    }

    #[test]
    fn off_grid_bias_floors_with_the_offset_folded_in() {
        // 0.3 * 2^4 = 4.8: rounding it to 5 makes acc = -1 a tie (4 / 8 -> 0 by half to
        // even) where ORT sums 3.8 / 8 -> 0, and acc = 7: 12 / 8 -> 2 where ORT has
        // 11.8 / 8 -> 1.
        let c = Channel {
            bias: 0.3,
            acc_exponent: -4,
            shift: 3,
            reach: 3000,
        };
        assert_eq!(reference_output(&c, 7), 1);
        assert_eq!(
            pipeline_output(BiasRounding::HalfEven, &c, half_even_bias(&c), 0, 7),
            2
        );
        let plan = plan(&node(), &[c], -128, 127).unwrap();
        assert_eq!(
            (plan.rounding, plan.biases),
            (BiasRounding::Floor, vec![4 + 4])
        );
        for acc in -3000..=3000 {
            assert_eq!(
                pipeline_output(BiasRounding::Floor, &c, 8, 0, acc).clamp(-128, 127),
                reference_output(&c, acc).clamp(-128, 127)
            );
        }
    }

    #[test]
    fn a_bias_beyond_int32_is_an_error_not_an_overflow() {
        for bias in [1e30, f64::INFINITY, f64::NAN] {
            let c = Channel {
                bias,
                acc_exponent: -10,
                shift: 31,
                reach: 100,
            };
            let error = plan(&node(), &[c], -128, 127).unwrap_err().to_string();
            assert!(error.contains("does not fit in int32"), "{error}");
        }
    }

    #[test]
    fn a_layer_mixing_on_grid_and_off_grid_biases_emulates_f32() {
        // Channel 0 (bias 0) needs ORT's ties, channel 1 (0.3) its even spacing: no one plain
        // pipeline of the layer fits both, the emulation of f32's sum fits each.
        let channel = |bias| Channel {
            bias,
            acc_exponent: -4,
            shift: 3,
            reach: 3000,
        };
        let plan = plan(&node(), &[channel(0.0), channel(0.3)], -128, 127).unwrap();
        assert_eq!(plan.rounding, BiasRounding::F32Sum);
        // 0.3 * 16 = 4.8: integer part 4, fraction 0.8 rounded to odd at 25 bits.
        assert_eq!(plan.biases, [0, 4]);
        assert_eq!(plan.fractions[0], 0);
        // 0.8 has more than 24 bits: the top 24 and the sticky bit.
        assert_eq!(plan.fractions[1] & 1, 1);
        assert!((plan.fractions[1] as f64 - 0.8 * 2f64.powi(25)).abs() < 2.0);
        // Each alone takes its plain pipeline.
        let alone = |bias| plan_of(&[channel(bias)]).rounding;
        assert_eq!(alone(0.0), BiasRounding::HalfEven);
        assert_eq!(alone(0.3), BiasRounding::Floor);
    }

    fn plan_of(channels: &[Channel]) -> Plan {
        plan(&node(), channels, -128, 127).unwrap()
    }

    /// b = 2^-4 * (3 - 2^-20): just below a tie of the shift-1 grid. With |acc * 2^-4| near
    /// 2^6 the f32 sum loses the 2^-24 and lands on the tie itself for some acc, so neither
    /// even spacing nor the grid bias matches ORT.
    fn bias_near_a_tie() -> Channel {
        Channel {
            bias: (3.0 - 2f64.powi(-20)) * 2f64.powi(-4),
            acc_exponent: -4,
            shift: 1,
            reach: 4000,
        }
    }

    #[test]
    fn f32_rounding_onto_a_tie_takes_the_emulation() {
        let c = bias_near_a_tie();
        let (lo, hi) = (-32768, 32767);
        for plain in [BiasRounding::HalfEven, BiasRounding::Floor] {
            let bias = integer_bias(plain, &c);
            assert!(!agrees(
                &c,
                |acc| pipeline_output(plain, &c, bias, 0, acc),
                lo,
                hi
            ));
        }
        let plan = plan(&node(), &[c], lo, hi).unwrap();
        assert_eq!(plan.rounding, BiasRounding::F32Sum);
        for acc in -4000..=4000 {
            let emulated =
                pipeline_output(plan.rounding, &c, plan.biases[0], plan.fractions[0], acc);
            assert_eq!(emulated, reference_output(&c, acc), "acc {acc}");
            assert_eq!(emulated, f32_reference(&c, acc), "acc {acc}");
            // The module's helper computes what the proof checked.
            let step = (plan.fractions[0] << 5 | 1) as i32;
            let helper = crate::quant::runtime::requantize_float_bias_sum(
                (acc + plan.biases[0]) as i32,
                step,
            );
            assert_eq!(i64::from(helper), emulated, "acc {acc}");
        }
    }

    #[test]
    fn a_zero_or_negative_shift_without_a_plain_pipeline_is_refused_with_the_channel() {
        // The emulation shifts by 1..=31; at shift 0 f32 ties round to even where the grid
        // bias (0.5 -> 0 + half to even on the sum) does not follow them.
        let c = Channel {
            shift: 0,
            ..bias_near_a_tie()
        };
        match plan(&node(), &[c], -32768, 32767) {
            Err(error) => {
                let error = error.to_string();
                assert!(
                    error.contains("fc") && error.contains("output channel 0"),
                    "{error}"
                );
            }
            Ok(plan) => assert_ne!(plan.rounding, BiasRounding::F32Sum),
        }
    }

    #[test]
    fn the_emulation_is_f32_arithmetic_at_the_edges_of_many_biases() {
        // Biases a few f32 ulps either side of ties and grid points, large and tiny, over a
        // reach that crosses many binades of the sum.
        let mut checked = 0;
        for e in [-16, -10, -4] {
            for s in [1, 3, 8, 11] {
                for base in [0.0, 0.5, 1.5, 2.25, -0.5, -3.5, 100.5, -0.3257472515106201] {
                    for ulps in [-2i32, -1, 0, 1, 2] {
                        let b = (base as f32) * 2f32.powi(e + s - 1);
                        let b = f32::from_bits((b.to_bits() as i32 + ulps) as u32);
                        if !b.is_finite() {
                            continue;
                        }
                        let c = Channel {
                            bias: b as f64,
                            acc_exponent: e,
                            shift: s,
                            reach: 1 << 20,
                        };
                        let (bias, fraction) =
                            (integer_bias(BiasRounding::F32Sum, &c), fraction(&c));
                        let accs = (-3000..=3000).chain((0..40).flat_map(|k| {
                            let edge = 1i64 << (k % 20 + 1);
                            [edge - 1, edge, edge + 1, -edge - 1, -edge, 1 - edge]
                        }));
                        for acc in accs {
                            assert_eq!(
                                pipeline_output(BiasRounding::F32Sum, &c, bias, fraction, acc),
                                f32_reference(&c, acc),
                                "{c:?} acc {acc}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 1_000_000);
    }
}
