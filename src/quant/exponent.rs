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
}
