//! Lowering: rewrites the float QDQ graph into the integer IR in which every tensor has an
//! exponent. Holds the scale-to-exponent rule and the integer helpers of DESIGN.md.

pub mod accumulator;
pub mod bias;
pub mod exponent;
pub mod expr;
pub(crate) mod lower;
pub mod runtime;
pub mod scales;
pub mod table;

pub use lower::{lower, Lowering, QuantConst, Value, Weights};

/// QuantizeLinear of a real value computed at codegen (tables, pad values, clamp bounds), as
/// ONNX Runtime does it: `round_half_even(y * 2^-e)`, saturated to int8, NaN to -128.
pub fn quantize_real(y: f64, exponent: i32) -> i8 {
    quantize_real_to(y, exponent, crate::ir::QType::I8) as i8
}

/// [`quantize_real`] into the range of `dtype`.
pub fn quantize_real_to(y: f64, exponent: i32, dtype: crate::ir::QType) -> i64 {
    let (lo, hi) = dtype.range();
    if y.is_nan() {
        return lo;
    }
    (y * 2f64.powi(-exponent))
        .round_ties_even()
        .clamp(lo as f64, hi as f64) as i64
}
