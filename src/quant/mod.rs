//! Lowering: rewrites the float QDQ graph into the integer IR in which every tensor has an
//! exponent. Holds the scale-to-exponent rule and the integer helpers of DESIGN.md.

pub mod bias;
pub mod exponent;
pub mod expr;
pub(crate) mod lower;
pub mod runtime;
pub mod scales;
pub mod table;

pub use lower::{lower, Lowering, QuantConst, Value};

/// QuantizeLinear of a real value computed at codegen (tables, pad values, clamp bounds), as
/// ONNX Runtime does it: `round_half_even(y * 2^-e)`, saturated to int8, NaN to -128.
pub fn quantize_real(y: f64, exponent: i32) -> i8 {
    if y.is_nan() {
        return -128;
    }
    (y * 2f64.powi(-exponent))
        .round_ties_even()
        .clamp(-128.0, 127.0) as i8
}
