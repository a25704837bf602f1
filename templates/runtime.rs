// Integer helpers shared by every generated module. This file is the single source: the
// generator copies it into each module and also compiles it itself, so that its unit tests
// exercise exactly the code that runs on the device. Every rounding step breaks ties as the
// module's `const ROUND_HALF_UP: bool` says (written by the generator): to even by default, as
// ONNX Runtime; toward +infinity with `--rounding half-up`, as ESP-DL's ESP32-S3 kernels.

/// Saturates to the int8 range.
#[inline(always)]
fn saturate_i8(value: i64) -> i8 {
    if value > 127 {
        127
    } else if value < -128 {
        -128
    } else {
        value as i8
    }
}

/// `value * 2^-shift`, rounded to nearest; ties to even (ONNX QuantizeLinear rounding) or, with
/// `ROUND_HALF_UP`, up (`(value + 2^(shift-1)) >> shift`, ESP-DL's S3 rounding).
/// A negative shift is an exact left shift. Computed in i64, so no input can overflow.
#[inline(always)]
fn shift_round(value: i32, shift: i32) -> i64 {
    if shift >= 32 {
        // |value| <= 2^31 = half of 2^32: every i32 rounds to 0 (-2^31 is a tie, to 0 both ways).
        0
    } else if shift > 0 {
        // Quotient and remainder in 32 bits (no i64 arithmetic on a 32-bit MCU): the quotient
        // is below 2^30 in magnitude, so adding the rounding step cannot overflow.
        let s = shift as u32;
        let kept = value >> s;
        let rest = (value as u32) & (u32::MAX >> (32 - s));
        let half = 1u32 << (s - 1);
        // Half to even rounds a tie up only when the kept part is odd: `rest + 1 > half`.
        let up = if ROUND_HALF_UP {
            rest >= half
        } else {
            rest + (kept as u32 & 1) > half
        };
        (kept + up as i32) as i64
    } else if shift < 0 {
        let value = value as i64;
        // Beyond 32 every nonzero i32 saturates any narrow type, so capping is exact after saturation.
        let s = if shift < -32 { 32 } else { (-shift) as u32 };
        value << s
    } else {
        value as i64
    }
}

/// Requantizes an accumulator to int8: `saturate(round(acc * 2^-shift))`.
#[inline(always)]
fn requantize_i8(acc: i32, shift: i32) -> i8 {
    saturate_i8(shift_round(acc, shift))
}

/// [`shift_round`] with one add and one shift, for `0 < shift < 32` and
/// `|value| + 2^(shift-1) <= i32::MAX`, which the generator proves from the layer's
/// accumulator bound before it calls this (the header's `acc bound` column). Half to even adds
/// `2^(shift-1) - 1` plus the kept part's lowest bit, so that a tie rounds up only when odd.
#[inline(always)]
fn shift_round_with_headroom(value: i32, shift: i32) -> i32 {
    let s = (shift as u32).clamp(1, 31);
    let odd_or_up = if ROUND_HALF_UP { 1 } else { (value >> s) & 1 };
    // Wrapping only so that the call cannot panic; under the bound it never wraps.
    value.wrapping_add((1 << (s - 1)) - 1 + odd_or_up) >> s
}

/// Requantizes an accumulator whose bound leaves room for the rounding add (see
/// [`shift_round_with_headroom`]) to `[LO, HI]`: the int8 or int16 range, or a fused
/// Relu/Clip within it.
#[inline(always)]
fn requantize_bounded<const LO: i32, const HI: i32>(acc: i32, shift: i32) -> i32 {
    let value = shift_round_with_headroom(acc, shift);
    if value < LO {
        LO
    } else if value > HI {
        HI
    } else {
        value
    }
}

/// [`requantize_bounded`] to int8.
#[inline(always)]
fn requantize_bounded_i8<const LO: i32, const HI: i32>(acc: i32, shift: i32) -> i8 {
    requantize_bounded::<LO, HI>(acc, shift) as i8
}

/// [`requantize_bounded`] to int16.
#[inline(always)]
fn requantize_bounded_i16<const LO: i32, const HI: i32>(acc: i32, shift: i32) -> i16 {
    requantize_bounded::<LO, HI>(acc, shift) as i16
}

/// Requantizes an accumulator whose bias already holds the rounding offset to `[LO, HI]`:
/// `clamp(acc >> shift, LO, HI)`, for `0 <= shift < 32`. The generator uses it for a float
/// bias whose sum with the accumulator never lies on a rounding tie, which it proves against
/// ONNX Runtime's f32 arithmetic for every reachable `acc` (the bias is then
/// `floor(b * 2^-E) + 2^(shift-1)`).
#[inline(always)]
fn requantize_floor<const LO: i32, const HI: i32>(acc: i32, shift: i32) -> i32 {
    // `& 31` is free on RISC-V and Xtensa (their shifts read five bits) and cannot panic.
    let value = acc >> (shift & 31);
    if value < LO {
        LO
    } else if value > HI {
        HI
    } else {
        value
    }
}

/// [`requantize_floor`] to int8.
#[inline(always)]
fn requantize_floor_i8<const LO: i32, const HI: i32>(acc: i32, shift: i32) -> i8 {
    requantize_floor::<LO, HI>(acc, shift) as i8
}

/// [`requantize_floor`] to int16.
#[inline(always)]
fn requantize_floor_i16<const LO: i32, const HI: i32>(acc: i32, shift: i32) -> i16 {
    requantize_floor::<LO, HI>(acc, shift) as i16
}

/// `value * 2^-bits` rounded half to even, for `bits < 64`.
#[inline(always)]
fn shift_half_even_u64(value: u64, bits: u32) -> u64 {
    if bits == 0 {
        return value;
    }
    let kept = value.wrapping_shr(bits);
    let rest = value & 1u64.wrapping_shl(bits).wrapping_sub(1);
    let half = 1u64.wrapping_shl(bits.wrapping_sub(1));
    kept.wrapping_add(u64::from(rest > half || (rest == half && kept & 1 == 1)))
}

/// Requantizes an accumulator holding `acc + floor(b * 2^-E)` exactly as ONNX Runtime adds a
/// float bias `b` in f32 and quantizes, to `[LO, HI]`: `step` is `fraction << 5 | shift` with
/// the shift `1..=31` and the bias's fraction below the accumulator grid in 25 bits, rounded
/// to odd. The sum `acc * 2^25 + fraction` (below 2^56) is rounded to f32's 24 significant
/// bits, half to even, then shifted by `25 + shift`, half to even; both roundings are
/// symmetric, so they run on the magnitude. The generator proves it equal to f32 arithmetic
/// for every reachable `acc`, and uses it only where a plain shift is not.
#[inline(always)]
fn requantize_f32_sum<const LO: i32, const HI: i32>(acc: i32, step: i32) -> i32 {
    const FRACTION_BITS: u32 = 25;
    let shift = (step & 31) as u32;
    let sum = (i64::from(acc) << FRACTION_BITS).wrapping_add(i64::from(step >> 5));
    let magnitude = sum.unsigned_abs();
    let dropped = (64 - magnitude.leading_zeros()).saturating_sub(24);
    let f32_sum = shift_half_even_u64(magnitude, dropped).wrapping_shl(dropped);
    let level = shift_half_even_u64(f32_sum, FRACTION_BITS + shift) as i64;
    let level = if sum < 0 { level.wrapping_neg() } else { level };
    if level < LO as i64 {
        LO
    } else if level > HI as i64 {
        HI
    } else {
        level as i32
    }
}

/// [`requantize_f32_sum`] to int8.
#[inline(always)]
fn requantize_f32_sum_i8<const LO: i32, const HI: i32>(acc: i32, step: i32) -> i8 {
    requantize_f32_sum::<LO, HI>(acc, step) as i8
}

/// [`requantize_f32_sum`] to int16.
#[inline(always)]
fn requantize_f32_sum_i16<const LO: i32, const HI: i32>(acc: i32, step: i32) -> i16 {
    requantize_f32_sum::<LO, HI>(acc, step) as i16
}

/// [`requantize_i8`] with a fused Relu/Clip: `clamp(round(acc * 2^-shift), LO, HI)` for
/// `-128 <= LO <= HI <= 127`. One pair of compares instead of saturating, then clamping.
#[inline(always)]
fn requantize_within_i8<const LO: i64, const HI: i64>(acc: i32, shift: i32) -> i8 {
    let value = shift_round(acc, shift);
    (if value < LO {
        LO
    } else if value > HI {
        HI
    } else {
        value
    }) as i8
}

/// [`requantize_within_i8`] for int16 outputs: `-32768 <= LO <= HI <= 32767`.
#[inline(always)]
fn requantize_within_i16<const LO: i64, const HI: i64>(acc: i32, shift: i32) -> i16 {
    let value = shift_round(acc, shift);
    (if value < LO {
        LO
    } else if value > HI {
        HI
    } else {
        value
    }) as i16
}

/// Saturates to the int16 range.
#[inline(always)]
fn saturate_i16(value: i64) -> i16 {
    if value > 32767 {
        32767
    } else if value < -32768 {
        -32768
    } else {
        value as i16
    }
}

/// Requantizes an accumulator to int16: `saturate(round(acc * 2^-shift))`.
#[inline(always)]
fn requantize_i16(acc: i32, shift: i32) -> i16 {
    saturate_i16(shift_round(acc, shift))
}

/// Requantizes an i64 accumulator (a layer whose worst case exceeds i32; `|acc| <= 2^62`,
/// proven at codegen) to int8: `saturate(round(acc * 2^-shift))`.
#[inline(always)]
fn requantize_i64(acc: i64, shift: i32) -> i8 {
    saturate_i8(shift_round_i64(acc, shift))
}

/// [`requantize_i64`] to int16.
#[inline(always)]
fn requantize_i64_to_i16(acc: i64, shift: i32) -> i16 {
    saturate_i16(shift_round_i64(acc, shift))
}

/// `acc * 2^-shift` rounded to nearest (ties as `ROUND_HALF_UP` says), for `|acc| <= 2^62`;
/// a result beyond int16 stands for every value that saturates.
#[inline(always)]
fn shift_round_i64(acc: i64, shift: i32) -> i64 {
    if shift > 0 {
        // Beyond 63 every |acc| <= 2^62 rounds to 0.
        let s = if shift > 63 { 63 } else { shift as u32 };
        // Quotient and remainder (0 <= rest < 2^s), so that nothing can overflow.
        let kept = acc >> s;
        let rest = acc - (kept << s);
        let half = 1i64 << (s - 1);
        if rest > half || (rest == half && (ROUND_HALF_UP || kept & 1 == 1)) {
            kept + 1
        } else {
            kept
        }
    } else if !(-32768..=32767).contains(&acc) {
        // Already beyond int16 (and int8): a left shift only moves it further out.
        acc
    } else {
        // |acc| < 2^15 and s <= 32: no overflow.
        let s = if shift < -32 { 32 } else { (-shift) as u32 };
        acc << s
    }
}

/// Rounds `(sum * 2^-shift) / count` to nearest (ties as `ROUND_HALF_UP` says), exactly in
/// integers.
/// `count` is at least 1; used by the average pools.
#[inline(always)]
fn divide_round(sum: i32, shift: i32, count: i32) -> i8 {
    let (numerator, denominator) = scaled_fraction(sum, shift, count);
    round_quotient(numerator, denominator)
}

/// `(sum * 2^-shift) / count` as an exact fraction: the shift goes into the numerator or the
/// denominator, so that one rounding step handles both the shift and the division.
#[inline(always)]
fn scaled_fraction(sum: i32, shift: i32, count: i32) -> (i64, i64) {
    if shift >= 0 {
        let s = if shift > 30 { 30 } else { shift as u32 };
        (sum as i64, (count as i64) << s)
    } else {
        let s = if shift < -32 { 32 } else { (-shift) as u32 };
        ((sum as i64) << s, count as i64)
    }
}

/// `numerator / denominator` rounded to nearest (ties to even, or up with `ROUND_HALF_UP`),
/// saturated to int8; exact in integers. A denominator below 1 counts as 1. Used by the
/// average pools and Softmax.
#[inline(always)]
fn round_quotient(numerator: i64, denominator: i64) -> i8 {
    saturate_i8(rounded_quotient(numerator, denominator))
}

/// [`divide_round`] to int16: `(sum * 2^-shift) / count` rounded to nearest and saturated.
#[inline(always)]
fn divide_round_i16(sum: i32, shift: i32, count: i32) -> i16 {
    let (numerator, denominator) = scaled_fraction(sum, shift, count);
    saturate_i16(rounded_quotient(numerator, denominator))
}

/// `numerator / denominator` rounded to nearest (ties as `ROUND_HALF_UP` says), exactly, not
/// saturated; a denominator below 1 counts as 1. For `|numerator| <= 2^62`.
#[inline(always)]
fn rounded_quotient(numerator: i64, denominator: i64) -> i64 {
    let denominator = if denominator < 1 { 1 } else { denominator };
    // Floor division: `/` and `%` truncate, so a negative remainder takes one step down. The
    // operators, not `div_euclid`, so that at opt-level `z` no out-of-line call keeps a
    // check for a zero denominator.
    let (quotient, remainder) = (numerator / denominator, numerator % denominator);
    let (quotient, remainder) = if remainder < 0 {
        (quotient - 1, remainder + denominator)
    } else {
        (quotient, remainder)
    };
    let twice_remainder = 2 * remainder;
    if twice_remainder > denominator
        || (twice_remainder == denominator && (ROUND_HALF_UP || quotient & 1 == 1))
    {
        quotient + 1
    } else {
        quotient
    }
}

/// ONNX QuantizeLinear to int8 for a power-of-two scale: `x * inverse_scale` is exact, then
/// round (ties to even as ONNX, or up with `ROUND_HALF_UP`) and saturate. NaN becomes -128,
/// as in ONNX Runtime 1.32.
#[inline(always)]
fn quantize_i8(x: f32, inverse_scale: f32) -> i8 {
    quantize_within(x * inverse_scale, -128.0, 127.0) as i8
}

/// ONNX QuantizeLinear to int16, as [`quantize_i8`]; NaN becomes -32768.
#[inline(always)]
fn quantize_i16(x: f32, inverse_scale: f32) -> i16 {
    quantize_within(x * inverse_scale, -32768.0, 32767.0) as i16
}

/// `v` rounded to an integer (ties as `ROUND_HALF_UP` says) and saturated to `[lo, hi]`,
/// with NaN as `lo`.
#[inline(always)]
fn quantize_within(v: f32, lo: f32, hi: f32) -> i32 {
    // Clamping first makes the integer conversion below exact; saturation happens here too.
    #[allow(clippy::eq_op)]
    let v = if v > hi {
        hi
    } else if v < lo {
        lo
    } else if v == v {
        v
    } else {
        lo
    };
    let truncated = v as i32;
    let fraction = v - truncated as f32;
    // A tie goes up for half-up; for half to even, away from an odd truncation.
    let odd = truncated & 1 == 1;
    if fraction > 0.5 || (fraction == 0.5 && (ROUND_HALF_UP || odd)) {
        truncated + 1
    } else if fraction < -0.5 || (fraction == -0.5 && !ROUND_HALF_UP && odd) {
        truncated - 1
    } else {
        truncated
    }
}

/// `floor(sqrt(value))`, exactly, by bisection on integers.
#[inline(always)]
fn isqrt(value: u64) -> u64 {
    // Invariant: lo * lo <= value < hi * hi (hi * hi = 2^64 exceeds every u64).
    let mut lo: u64 = 0;
    let mut hi: u64 = 1 << 32;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if mid * mid <= value {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `sqrt(sum) * 2^-shift` rounded to nearest (ties as `ROUND_HALF_UP` says), saturated to
/// int8; exact in integers (ReduceL2). `sum` is at least 0 and below 2^40.
#[inline(always)]
fn sqrt_round(sum: i64, shift: i32) -> i8 {
    saturate_i8(sqrt_round_wide(sum, shift))
}

/// `sqrt(sum) * 2^-shift` rounded to nearest (ties as `ROUND_HALF_UP` says), exact in
/// integers, unsaturated: a result of 32768 stands for every value that saturates int16 (and
/// int8). `sum` is at least 0 and below 2^40. ReduceL2 ([`sqrt_round`] for int8).
#[inline(always)]
fn sqrt_round_wide(sum: i64, shift: i32) -> i64 {
    let sum = (if sum < 0 { 0 } else { sum }) as u64;
    if sum == 0 {
        return 0;
    }
    let up = if shift < 0 { (-shift) as u32 } else { 0 };
    // sqrt(sum) * 2^up reaches 2^15 once sum * 4^up >= 2^30: those saturate, and below it
    // x = 4 * sum * 4^up stays below 2^32.
    if up > 0 && (up >= 15 || sum >= (1u64 << 30) >> (2 * up)) {
        return 32768;
    }
    // Beyond down = 40 every sum rounds to 0, so capping it is exact.
    let down = if shift > 40 { 40 } else if shift > 0 { shift as u32 } else { 0 };
    let x = (sum * 4) << (2 * up);
    let twice_floor = isqrt(x) >> down;
    let m = twice_floor / 2;
    let rounded = if twice_floor & 1 == 0 {
        m
    } else {
        // The value lies in [m + 1/2, m + 1); exactly m + 1/2 only if 2v is that integer.
        let scaled = twice_floor << down;
        if scaled * scaled == x && m & 1 == 0 && !ROUND_HALF_UP {
            m
        } else {
            m + 1
        }
    };
    rounded as i64
}

/// `ln(x)` in f64 for an integer `x >= 1` (below 1 counts as 1), to within a few f64 ULP:
/// `x = m * 2^k` with m in [sqrt(2)/2, sqrt(2)], then `ln(m) = 2 atanh(z)` with
/// `z = (m - 1) / (m + 1)`, `|z| < 0.172`, by 15 terms of its series (the next is below 2^-80).
/// Used by ReduceLogSumExp and LogSoftmax.
#[inline(always)]
fn ln_f64(x: i64) -> f64 {
    let bits = (if x < 1 { 1 } else { x } as f64).to_bits();
    let mut k = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > core::f64::consts::SQRT_2 {
        m *= 0.5;
        k += 1;
    }
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut term = z;
    let mut series = 0.0;
    for n in 0..15 {
        series += term / (2 * n + 1) as f64;
        term *= z2;
    }
    2.0 * series + k as f64 * core::f64::consts::LN_2
}

/// `2^k` as an f32, for `k` in `-126..=127`.
#[inline(always)]
fn pow2_f32(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// The square root of an f32, correctly rounded (as IEEE `sqrtf`), in integers: for
/// `v = m * 2^p` with p even, `sqrt(v) = sqrt(m * 2^28) * 2^((p - 28) / 2)`, whose integer
/// square root has 26 or 27 bits. Rounding its floor at the 24th bit is round-to-nearest,
/// since the square root of a float never lies exactly halfway. Used by the normalizations.
#[inline(always)]
fn sqrt_f32(v: f32) -> f32 {
    if v.is_nan() || v < 0.0 {
        return f32::NAN;
    }
    if v == 0.0 || v.is_infinite() {
        return v;
    }
    // Subnormals are scaled by 2^64 first (exactly), and the root back by 2^-32.
    let (v, back) = if v < f32::MIN_POSITIVE {
        (v * pow2_f32(64), -32)
    } else {
        (v, 0)
    };
    let bits = v.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 150;
    let m = ((bits & 0x7f_ffff) | 0x80_0000) as u64;
    let (m, p) = if e & 1 != 0 { (m << 1, e - 1) } else { (m, e) };
    let root = isqrt(m << 28);
    let drop = 64 - root.leading_zeros() as i32 - 24;
    let rounded = (root >> drop) + ((root >> (drop - 1)) & 1);
    let k = drop + (p - 28) / 2 + back;
    // Two factors keep each power of two in range; the product is exact.
    rounded as f32 * pow2_f32(k / 2) * pow2_f32(k - k / 2)
}

/// The consecutive `N`-element chunks of `elements` as arrays, a shorter tail left out: what
/// `chunks_exact(N)` gives, with the chunk size a constant of the type. `chunks_exact` keeps
/// its chunk size in the iterator, so where the optimiser does not inline core's iterator
/// code (opt-level `s` and `z`) a division by it, and with it a panic path, stays; here the
/// size is a constant, and the chunks are a slice iterator, which `zip` walks with one index
/// (a loop over zipped chunks keeps one counter, not an end test per iterator). `N = 0`
/// gives no chunk.
#[inline(always)]
fn array_chunks<const N: usize, T>(elements: &[T]) -> core::slice::Iter<'_, [T; N]> {
    if N == 0 {
        return [].iter();
    }
    elements.as_chunks::<N>().0.iter()
}

/// [`array_chunks`] of a mutable slice.
#[inline(always)]
fn array_chunks_mut<const N: usize, T>(elements: &mut [T]) -> core::slice::IterMut<'_, [T; N]> {
    if N == 0 {
        return [].iter_mut();
    }
    elements.as_chunks_mut::<N>().0.iter_mut()
}

/// Chunk `index` of `elements` cut into `N`-element chunks, as an array; `None` past the end.
#[inline(always)]
fn array_chunk<const N: usize, T>(elements: &[T], index: usize) -> Option<&[T; N]> {
    elements.get(index.checked_mul(N)?..)?.first_chunk::<N>()
}

/// Saturates to the i32 range.
#[inline(always)]
fn saturate_i32(value: i64) -> i32 {
    if value > i32::MAX as i64 {
        i32::MAX
    } else if value < i32::MIN as i64 {
        i32::MIN
    } else {
        value as i32
    }
}

/// `a * b * 2^-24`, rounded and saturated: the product of two Q24 values (or of a Q24 value
/// and one of another exponent, which the result keeps). Used by the recurrent layers.
#[inline(always)]
fn mul_q24(a: i32, b: i32) -> i32 {
    // |a * b| <= 2^62, as shift_round_i64 needs.
    saturate_i32(shift_round_i64(a as i64 * b as i64, 24))
}

/// Sigmoid (`sigmoid`) or tanh of `z * 2^-24`, in Q24 (2^24 = 1.0): linear between the
/// entries of `table`, which holds f(k * 2^(BITS - 24)) in Q24 for k in 0..=1024 (sigmoid:
/// BITS 18, steps of 1/64 up to 16; tanh: BITS 17, steps of 1/128 up to 8), and f at the last
/// entry beyond it. Negative inputs use `sigmoid(-x) = 1 - sigmoid(x)` and
/// `tanh(-x) = -tanh(x)`. The interpolation rounds half up: a tie here is an error far below
/// the result's precision. Used by the recurrent layers (docs/numerics.md states the error).
#[inline(always)]
fn activation_q24<const BITS: u32>(z: i32, table: &[i32; 1025], sigmoid: bool) -> i32 {
    let magnitude = z.unsigned_abs();
    let segment = (magnitude >> BITS) as usize;
    let value = match (table.get(segment), table.get(segment + 1)) {
        (Some(low), Some(high)) => {
            let fraction = (magnitude & ((1 << BITS) - 1)) as i64;
            low + (((*high - *low) as i64 * fraction + (1 << (BITS - 1))) >> BITS) as i32
        }
        _ => table[1024],
    };
    if z >= 0 {
        value
    } else if sigmoid {
        (1 << 24) - value
    } else {
        -value
    }
}

/// `value * 2^-shift`: rounded for `shift > 0`, an exact left shift otherwise (the generator
/// proved that it stays within i64). Brings a recurrent layer's products to Q24.
#[inline(always)]
fn scale_to_q24(value: i64, shift: i32) -> i64 {
    if shift > 0 {
        shift_round_i64(value, shift)
    } else {
        value << ((-shift) as u32 & 63)
    }
}
