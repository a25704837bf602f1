//! 256-entry int8 lookup tables: `T[q + 128] = sat(round(f(q * 2^ex) * 2^-ey))`, with `f`
//! evaluated in f64 at codegen (docs/numerics.md, unary nonlinear ops) and the pipeline's rounding
//! mode (half to even by default).

use super::expr::Expression;
use super::Rounding;
use std::collections::BTreeMap;

/// The table of `f` from int8 at exponent `ex` to int8 at exponent `ey`. A NaN result maps
/// to -128, as ONNX Runtime's QuantizeLinear does.
pub fn int8_table<E>(
    mut f: impl FnMut(f64) -> Result<f64, E>,
    ex: i32,
    ey: i32,
    rounding: Rounding,
) -> Result<Vec<i8>, E> {
    (-128i32..=127)
        .map(|q| {
            Ok(super::quantize_real(
                f(q as f64 * 2f64.powi(ex))?,
                ey,
                rounding,
            ))
        })
        .collect()
}

/// The 256-entry table of `f` from int8 at exponent `ex` to `dtype` at exponent `ey` (an
/// int8 input with an int16 output).
pub fn int8_input_table(
    f: impl Fn(f64) -> f64,
    ex: i32,
    ey: i32,
    dtype: super::QType,
    rounding: Rounding,
) -> Vec<i64> {
    (-128i32..=127)
        .map(|q| super::quantize_real_to(f(q as f64 * 2f64.powi(ex)), ey, dtype, rounding))
        .collect()
}

/// The table of an expression in `x`, with extra named variables.
pub fn expression_table(
    expression: &str,
    ex: i32,
    ey: i32,
    variables: &BTreeMap<String, f64>,
    rounding: Rounding,
) -> Result<Vec<i8>, String> {
    let parsed = Expression::parse(expression)?;
    let mut vars = variables.clone();
    int8_table(
        |x| {
            vars.insert("x".into(), x);
            parsed.eval(&vars)
        },
        ex,
        ey,
        rounding,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_table_is_exact() {
        let t = expression_table("x", -3, -3, &BTreeMap::new(), Rounding::HalfEven).unwrap();
        assert_eq!(t[0], -128);
        assert_eq!(t[128], 0);
        assert_eq!(t[255], 127);
    }

    #[test]
    fn ties_round_to_even_and_saturate() {
        // x * 2^-(ey) with ey = ex + 1 halves the value: 3/2 -> 2, 5/2 -> 2, 1/2 -> 0.
        let t = expression_table("x", 0, 1, &BTreeMap::new(), Rounding::HalfEven).unwrap();
        assert_eq!(t[128 + 3], 2);
        assert_eq!(t[128 + 5], 2);
        assert_eq!(t[128 + 1], 0);
        assert_eq!(t[128 - 3], -2);
        // Half-up: 3/2 -> 2, 5/2 -> 3, 1/2 -> 1, -3/2 -> -1.
        let up = expression_table("x", 0, 1, &BTreeMap::new(), Rounding::HalfUp).unwrap();
        assert_eq!(
            [up[128 + 3], up[128 + 5], up[128 + 1], up[128 - 3]],
            [2, 3, 1, -1]
        );
        let doubled =
            expression_table("2 * x", 0, 0, &BTreeMap::new(), Rounding::HalfEven).unwrap();
        assert_eq!(doubled[255], 127);
        assert_eq!(doubled[0], -128);
    }

    #[test]
    fn nan_maps_to_minus_128() {
        let t = expression_table("sqrt(x)", 0, 0, &BTreeMap::new(), Rounding::HalfEven).unwrap();
        assert_eq!(t[0], -128);
        assert_eq!(t[128 + 4], 2);
    }
}
