//! onnx2esp compiles a quantized ONNX model with power-of-two scales into a `no_std` Rust
//! module of specialised, allocation-free integer code, for the ESP32-S3 and other MCUs.
//!
//! The pipeline ([`pipeline::compile`]), each stage depending only on those before it:
//!
//! 1. [`onnx`] decodes the model into a small owned graph;
//! 2. [`rewrite`] normalises it (constant folding, the QOperator format, layout ops at the
//!    edges) and applies the scale policy;
//! 3. [`lower`] turns the QDQ float graph into the integer [`ir`], one [`kernel`] per layer,
//!    using the integer arithmetic of [`quant`];
//! 4. [`plan`] places the tensors in one arena;
//! 5. [`emit`] renders every layer from its template and writes the module.
//!
//! In `build.rs`:
//!
//! ```no_run
//! onnx2esp::Builder::new("models/digits.onnx").generate().unwrap();
//! // then, in the crate: mod digits { include!(concat!(env!("OUT_DIR"), "/digits.rs")); }
//! ```

pub mod emit;
pub mod error;
pub mod inspect;
pub mod ir;
pub mod kernel;
pub mod lower;
pub mod npy;
pub mod onnx;
pub mod options;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod quant;
pub mod rewrite;
pub mod text;

pub mod compare;

mod builder;
mod generate;
mod regenerate;

pub use builder::{read_model, Builder};
pub use error::{Error, Result};
pub use generate::{
    generate_files, generate_from_bytes, generate_reporting, generate_with, weights_file_name,
};
pub use options::{
    Budget, EmbedTests, Options, TargetCpu, DEFAULT_MAX_CODE, DEFAULT_UNROLL,
    DEFAULT_WEIGHTS_FILE_THRESHOLD,
};
pub use output::Written;
pub use pipeline::{rewrite_model, template_context, Generated};
pub use quant::Rounding;
pub use rewrite::scales::{rewrite_scales, ScalePolicy, ScaleReport, SnapRule};
