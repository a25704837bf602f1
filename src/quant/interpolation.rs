//! Coarse tables with linear interpolation, for unary ops on int16 inputs (docs/numerics.md,
//! "Unary ops on int16").
//!
//! With `u = x + 32768`, the input range is cut into 256 segments of 256 codes; segment `s`
//! is cut again into pieces of `2^b_s` codes (`b_s` from 8, one piece, down to 0, one entry
//! per code). The entries `E` hold `round(f(x * 2^ex) * 2^(FRACTION_BITS - ey))` at every
//! piece's left end, segment after segment, and one more at `u = 65536`, so a piece's right
//! end is the next entry. At run time
//! `y = sat(round((E[j] (2^b - t) + E[j + 1] t) * 2^-(b + FRACTION_BITS)))` with
//! `j = base_s + ((u & 255) >> b)` and `t = u & (2^b - 1)`. The generator picks for each
//! segment the coarsest pieces whose worst case against the exact rounded `f` is at most
//! [`MAX_ERROR`]; one entry per code always is, so every function fits.

use super::{QType, Rounding};

/// Fraction bits of the entries.
pub const FRACTION_BITS: u32 = 6;
/// Codes per segment: `2^SEGMENT_BITS`.
pub const SEGMENT_BITS: u32 = 8;
/// The largest error accepted in any segment, in output steps.
pub const MAX_ERROR: u64 = 1;

/// An interpolated table and its measured worst case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    /// Per segment, `(base << 4) | b`: the index of its first entry and its piece size.
    pub segments: Vec<u32>,
    /// The entries, with [`FRACTION_BITS`] fraction bits.
    pub entries: Vec<i32>,
    /// The largest `|y - sat(round(f(x 2^ex) 2^-ey))|` over every int16 `x`, in output steps.
    pub max_error: u64,
}

impl Interpolated {
    /// Flash bytes: the segment index and the entries, 4 bytes each.
    pub fn bytes(&self) -> usize {
        4 * (self.segments.len() + self.entries.len())
    }

    /// The kernel's output for `x`, exactly as the generated code computes it.
    pub fn evaluate(&self, x: i32, output: QType, rounding: Rounding) -> i64 {
        let u = (x + 32768) as u32;
        let segment = self
            .segments
            .get((u >> SEGMENT_BITS) as usize)
            .copied()
            .unwrap_or(0);
        let b = segment & 15;
        let j = (segment >> 4) as usize + ((u & 255) >> b) as usize;
        let t = (u & ((1 << b) - 1)) as i64;
        let at = |i: usize| self.entries.get(i).copied().unwrap_or(0) as i64;
        piece_value(at(j), at(j + 1), b, t, output, rounding)
    }
}

/// `sat(round((left (2^b - t) + right t) * 2^-(b + FRACTION_BITS)))`.
fn piece_value(left: i64, right: i64, b: u32, t: i64, output: QType, rounding: Rounding) -> i64 {
    let v = left * ((1 << b) - t) + right * t;
    let y = rounding.round(v as f64 / 2f64.powi((b + FRACTION_BITS) as i32));
    let (lo, hi) = output.range();
    (y as i64).clamp(lo, hi)
}

/// The interpolated table of `f` from int16 at `ex` to `output` at `ey`.
pub fn interpolated(
    f: &dyn Fn(f64) -> f64,
    ex: i32,
    ey: i32,
    output: QType,
    rounding: Rounding,
) -> Interpolated {
    let entry = |u: u32| entry(f, ex, ey, output, u);
    let exact = |u: u32| {
        let x = u as f64 - 32768.0;
        super::quantize_real_to(f(x * 2f64.powi(ex)), ey, output, rounding)
    };
    let mut segments = Vec::with_capacity(256);
    let mut entries = Vec::new();
    let mut max_error = 0;
    for s in 0..(1u32 << (16 - SEGMENT_BITS)) {
        let start = s << SEGMENT_BITS;
        let truth: Vec<i64> = (start..start + 256).map(exact).collect();
        // The coarsest pieces within MAX_ERROR; b = 0 (one entry per code) is within a step.
        let piece = |b: u32| {
            let points: Vec<i64> = (0..=(256 >> b))
                .map(|i| entry(start + (i << b)) as i64)
                .collect();
            let error = (0..256u32)
                .map(|local| {
                    let (i, t) = ((local >> b) as usize, (local & ((1 << b) - 1)) as i64);
                    piece_value(points[i], points[i + 1], b, t, output, rounding)
                        .abs_diff(truth[local as usize])
                })
                .max()
                .unwrap_or(0);
            (b, points, error)
        };
        let (b, points, error) = (1..=SEGMENT_BITS)
            .rev()
            .map(piece)
            .find(|&(_, _, error)| error <= MAX_ERROR)
            .unwrap_or_else(|| piece(0));
        segments.push(((entries.len() as u32) << 4) | b);
        // The right end is the next segment's first entry (or the last entry).
        entries.extend(points[..points.len() - 1].iter().map(|&v| v as i32));
        max_error = max_error.max(error);
    }
    entries.push(entry(1 << 16));
    Interpolated {
        segments,
        entries,
        max_error,
    }
}

/// The entry at `u = x + 32768`: clamped one step outside the output range (so that every
/// product of the kernel fits `i32`), with NaN as the output minimum (as QuantizeLinear).
fn entry(f: &dyn Fn(f64) -> f64, ex: i32, ey: i32, output: QType, u: u32) -> i32 {
    let (lo, hi) = output.range();
    let one = (1i64 << FRACTION_BITS) as f64;
    let x = u as f64 - 32768.0;
    let v = f(x * 2f64.powi(ex)) * 2f64.powi(FRACTION_BITS as i32 - ey);
    if v.is_nan() {
        return (lo as f64 * one) as i32;
    }
    v.round()
        .clamp((lo - 1) as f64 * one, (hi + 1) as f64 * one) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worst(t: &Interpolated, f: &dyn Fn(f64) -> f64, ex: i32, ey: i32) -> u64 {
        (-32768..=32767)
            .map(|x| {
                let e = crate::quant::quantize_real_to(
                    f(x as f64 * 2f64.powi(ex)),
                    ey,
                    QType::I16,
                    Rounding::HalfEven,
                );
                t.evaluate(x, QType::I16, Rounding::HalfEven).abs_diff(e)
            })
            .max()
            .unwrap()
    }

    #[test]
    fn a_linear_function_is_exact_in_the_smallest_table() {
        let neg = |x: f64| -x;
        let t = interpolated(&neg, -10, -10, QType::I16, Rounding::HalfEven);
        assert_eq!((t.entries.len(), t.max_error), (257, 0));
        assert!(t.segments.iter().all(|s| s & 15 == 8));
        // -(-32768) saturates.
        assert_eq!(t.evaluate(-32768, QType::I16, Rounding::HalfEven), 32767);
        assert_eq!(t.evaluate(1234, QType::I16, Rounding::HalfEven), -1234);
        assert_eq!(worst(&t, &neg, -10, -10), 0);
    }

    #[test]
    fn the_measured_error_is_the_evaluated_error_and_within_one_step() {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let t = interpolated(&sigmoid, -12, -15, QType::I16, Rounding::HalfEven);
        assert!(t.max_error <= MAX_ERROR);
        assert_eq!(worst(&t, &sigmoid, -12, -15), t.max_error);
        // Far smaller than the 65,536-entry table.
        assert!(t.bytes() < 16 * 1024, "{}", t.bytes());
    }

    #[test]
    fn steep_segments_get_finer_pieces() {
        // sqrt next to 0 at a fine output step: one entry per code there, coarse elsewhere.
        let t = interpolated(&f64::sqrt, -14, -14, QType::I16, Rounding::HalfEven);
        assert_eq!(worst(&t, &f64::sqrt, -14, -14), t.max_error);
        assert!(t.max_error <= MAX_ERROR);
        assert_eq!(t.segments[128] & 15, 0, "the segment from x = 0");
        assert!(t.segments[255] & 15 >= 4, "{:x}", t.segments[255]);
        // Negative inputs give NaN: the output minimum.
        assert_eq!(t.evaluate(-5, QType::I16, Rounding::HalfEven), -32768);
    }

    #[test]
    fn every_product_fits_i32() {
        let t = interpolated(&f64::exp, -8, -8, QType::I16, Rounding::HalfEven);
        let bound = t
            .entries
            .iter()
            .map(|v| v.unsigned_abs() as u64)
            .max()
            .unwrap();
        assert!(bound * (1 << SEGMENT_BITS) * 2 <= i32::MAX as u64);
    }
}
