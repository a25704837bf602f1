//! One file per operator family: its shape rule, its lowering from ONNX nodes and its kernel
//! (the kernel's code itself is a template under `templates/`).

pub mod activation;
pub mod concat;
pub mod conv;
pub mod conv_transpose;
pub mod custom;
pub mod dense;
pub mod elementwise;
pub mod layout;
pub mod lp_norm;
pub mod matmul;
pub mod movement;
pub mod normalization;
pub mod pool;
pub mod quantize;
pub mod recurrent;
pub mod reduce;
pub mod resize;
pub mod scatter;
pub mod softmax;
pub mod table;
mod tile;
mod window;

pub use quantize::copy_layer;
pub use table::RealFunction;
