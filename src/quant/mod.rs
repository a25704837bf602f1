//! Lowering: rewrites the float QDQ graph into the integer IR in which every tensor has an
//! exponent. Holds the scale-to-exponent rule and the integer helpers of DESIGN.md.

pub mod bias;
pub mod exponent;
pub(crate) mod lower;
pub mod runtime;

pub use lower::{lower, Lowering, QuantConst, Value};
