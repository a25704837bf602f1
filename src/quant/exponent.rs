//! Scale to exponent: `real = q * 2^e` needs the scale to be exactly `2^e`.

/// Why a scale has no exact exponent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NotPowerOfTwo {
    pub nearest: i32,
    pub relative_error: f64,
}

/// The exponent `e` with `scale == 2^e` exactly.
pub fn exact_exponent(scale: f64) -> Result<i32, NotPowerOfTwo> {
    let nearest = nearest_exponent(scale);
    if scale > 0.0 && scale.is_finite() && 2f64.powi(nearest) == scale {
        Ok(nearest)
    } else {
        let snapped = 2f64.powi(nearest);
        Err(NotPowerOfTwo {
            nearest,
            relative_error: ((snapped - scale) / scale).abs(),
        })
    }
}

/// `round(log2 scale)`, the snapping rule of the power-of-two observer.
pub fn nearest_exponent(scale: f64) -> i32 {
    if scale > 0.0 && scale.is_finite() {
        scale.log2().round() as i32
    } else {
        0
    }
}

/// The smallest `e` with `2^e >= scale`: a step at least as coarse as the scale, so that
/// nothing the original grid could hold clips (`--snap ceil`).
pub fn ceil_exponent(scale: f64) -> i32 {
    if !(scale > 0.0 && scale.is_finite()) {
        return 0;
    }
    // log2 can be off by an ulp at exact powers of two; settle on the exact comparison.
    let mut e = scale.log2().ceil() as i32;
    while 2f64.powi(e - 1) >= scale {
        e -= 1;
    }
    while 2f64.powi(e) < scale {
        e += 1;
    }
    e
}

/// The smallest `e` whose symmetric grid `[qmin * 2^e, qmax * 2^e]` (qmin < 0 < qmax) holds
/// the real range `[lo, hi]` (lo <= 0 <= hi) without clipping.
pub fn covering_exponent(lo: f64, hi: f64, qmin: i64, qmax: i64) -> i32 {
    let step = (lo / qmin as f64).max(hi / qmax as f64);
    ceil_exponent(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_are_exact() {
        assert_eq!(exact_exponent(0.0078125), Ok(-7));
        assert_eq!(exact_exponent(1.0), Ok(0));
        assert_eq!(exact_exponent(8.0), Ok(3));
        assert_eq!(exact_exponent(2f64.powi(-30)), Ok(-30));
    }

    #[test]
    fn other_scales_report_the_nearest_exponent() {
        let e = exact_exponent(0.01).unwrap_err();
        assert_eq!(e.nearest, -7);
        assert!((e.relative_error - 0.21875).abs() < 1e-12);
        assert!(exact_exponent(0.0).is_err());
        assert!(exact_exponent(-0.5).is_err());
        assert!(exact_exponent(f64::NAN).is_err());
    }

    #[test]
    fn ceil_never_rounds_down() {
        assert_eq!(ceil_exponent(0.25), -2);
        assert_eq!(ceil_exponent(0.2500001), -1);
        assert_eq!(ceil_exponent(0.13), -2);
        assert_eq!(ceil_exponent(2f64.powi(-30)), -30);
    }

    #[test]
    fn the_covering_grid_holds_the_whole_range() {
        // uint8 with zero point 0 and scale 1/255: real range [0, 1] needs 127 * 2^e >= 1.
        assert_eq!(covering_exponent(0.0, 1.0, -128, 127), -6);
        // A range that fits exactly at 2^-7.
        assert_eq!(covering_exponent(-1.0, 127.0 / 128.0, -128, 127), -7);
        for (lo, hi) in [(-0.3, 0.9), (-5.0, 0.01), (0.0, 3.3)] {
            let e = covering_exponent(lo, hi, -128, 127);
            let step = 2f64.powi(e);
            assert!(-128.0 * step <= lo && 127.0 * step >= hi, "{lo} {hi} {e}");
            let finer = step / 2.0;
            assert!(
                -128.0 * finer > lo || 127.0 * finer < hi,
                "{lo} {hi} {e} is not the smallest"
            );
        }
    }
}
