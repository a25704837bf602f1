//! The fixture models, each compiled by onnx2esp into a module. This crate is `no_std` and
//! forbids `unsafe`, and CI builds it for `riscv32imc-unknown-none-elf` and
//! `thumbv7em-none-eabihf`: that is the proof that generated code needs only `core`.
#![no_std]
#![forbid(unsafe_code)]

/// PyTorch eager-mode QAT with power-of-two observers (float biases), 8×8 digits.
pub mod digits_qat {
    include!(concat!(env!("OUT_DIR"), "/digits_qat.rs"));
}

/// ESP-PPQ for esp32s3 (int8 weights, int32 biases), exported as QDQ ONNX.
pub mod digits_esppq {
    include!(concat!(env!("OUT_DIR"), "/digits_esppq.rs"));
}

/// `digits_qat` again, with Gemm rendered from the user template in `templates-override/`.
pub mod digits_qat_gemm_override {
    include!(concat!(env!("OUT_DIR"), "/digits_qat_gemm_override.rs"));
}

/// The custom-layer example (`examples/custom-layer`): the LearnableSwish layer alone.
pub mod swish_layer {
    include!(concat!(env!("OUT_DIR"), "/swish_layer.rs"));
}

/// The custom-layer example: the whole PyTorch QAT model with its LearnableSwish layer.
pub mod digits_swish {
    include!(concat!(env!("OUT_DIR"), "/digits_swish.rs"));
}

/// The single-op fixtures of `models/ops/` (made by `examples/ops/make_op_fixtures.py`), one
/// module each, listed by build.rs.
pub mod ops {
    include!(concat!(env!("OUT_DIR"), "/op_fixtures.rs"));
}

/// ESP-PPQ for esp32s3: a residual CNN (depthwise, ReLU6 as Clip, residual Add,
/// GlobalAveragePool, Gemm, Sigmoid), made by `examples/ops/quantize_whole_models_esppq.py`.
pub mod residual_cnn_esppq {
    include!(concat!(env!("OUT_DIR"), "/residual_cnn_esppq.rs"));
}

/// ESP-PPQ for esp32s3: a 1-D keyword-spotting-style model (Conv1d, Tanh, MaxPool1d,
/// LeakyRelu, Concat, AvgPool1d, Gemm), made by the same script.
pub mod kws1d_esppq {
    include!(concat!(env!("OUT_DIR"), "/kws1d_esppq.rs"));
}

/// ESP-PPQ for esp32s3: the large model of issue 8's benchmarks, a MobileNetV2 at 96x96x3 with
/// width 0.5 (0.70 M parameters), made by `examples/bench/make_mobilenet.py`.
pub mod mobilenet_v2_esppq {
    include!(concat!(env!("OUT_DIR"), "/mobilenet_v2_esppq.rs"));
}
