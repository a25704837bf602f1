//! Lowering: rewrites the float QDQ graph into the integer IR in which every tensor has an
//! exponent. Holds the scale-to-exponent rule and the integer helpers of DESIGN.md.

pub mod bias;
pub mod exponent;
pub mod expr;
pub(crate) mod lower;
pub mod runtime;
pub mod table;

pub use lower::{lower, Lowering, QuantConst, Value};
