//! The fixture models, each compiled by onnx2esp into a module. This crate is `no_std` and
//! forbids `unsafe`, and CI builds it for `riscv32imc-unknown-none-elf` and
//! `thumbv7em-none-eabihf`: that is the proof that generated code needs only `core`.
#![no_std]
#![forbid(unsafe_code)]

/// PyTorch eager-mode QAT with power-of-two observers (float biases), 8×8 digits.
pub mod digits_qat {
    include!(concat!(env!("OUT_DIR"), "/digits_qat.rs"));
}

/// PyTorch eager-mode PTQ with power-of-two observers (float biases), 8×8 digits.
pub mod digits_ptq {
    include!(concat!(env!("OUT_DIR"), "/digits_ptq.rs"));
}

/// ONNX Runtime's `quantize_static` (QDQ, symmetric int8, scales that are not powers of two)
/// under `--scales snap` (nearest).
pub mod digits_ort_qdq_snap {
    include!(concat!(env!("OUT_DIR"), "/digits_ort_qdq_snap.rs"));
}

/// The same under `--scales snap --snap ceil`.
pub mod digits_ort_qdq_ceil {
    include!(concat!(env!("OUT_DIR"), "/digits_ort_qdq_ceil.rs"));
}

/// ONNX Runtime's `quantize_static` with per-channel weight scales, under `--scales snap`.
pub mod digits_ort_perchannel_snap {
    include!(concat!(env!("OUT_DIR"), "/digits_ort_perchannel_snap.rs"));
}

/// ONNX Runtime's `quantize_static` in QOperator format (QLinearConv, QLinearMatMul, ...),
/// rewritten to QDQ at load, under `--scales snap`.
pub mod digits_ort_qoperator_snap {
    include!(concat!(env!("OUT_DIR"), "/digits_ort_qoperator_snap.rs"));
}

/// The same under `--scales snap --snap ceil`.
pub mod digits_ort_perchannel_ceil {
    include!(concat!(env!("OUT_DIR"), "/digits_ort_perchannel_ceil.rs"));
}

/// ONNX Runtime's `quantize_static` with int16 activations and int8 weights (opset 21),
/// under `--scales snap`: an int16 model end to end.
pub mod digits_ort_int16_snap {
    include!(concat!(env!("OUT_DIR"), "/digits_ort_int16_snap.rs"));
}

/// ONNX Runtime's `quantize_static` with asymmetric uint8 activations and weights, under
/// `--scales snap`.
pub mod digits_ort_uint8_snap {
    include!(concat!(env!("OUT_DIR"), "/digits_ort_uint8_snap.rs"));
}

/// An ONNX Runtime `quantize_static` MLP that begins with a Flatten on the float input,
/// under `--scales snap`.
pub mod mlp_ort_flatten_snap {
    include!(concat!(env!("OUT_DIR"), "/mlp_ort_flatten_snap.rs"));
}

/// ESP-PPQ for esp32s3 (int8 weights, int32 biases), exported as QDQ ONNX.
pub mod digits_esppq {
    include!(concat!(env!("OUT_DIR"), "/digits_esppq.rs"));
}

/// `digits_esppq` again, generated with half-up rounding (ESP-DL's S3 kernels).
pub mod digits_esppq_half_up {
    include!(concat!(env!("OUT_DIR"), "/digits_esppq_half_up.rs"));
}

/// `digits_esppq` again, every weight and bias read from its weights file with
/// `include_bytes!`; in a module that is `include!`d, the path resolves beside the module.
pub mod digits_esppq_weights_file {
    include!(concat!(env!("OUT_DIR"), "/digits_esppq_weights_file.rs"));
}

/// `digits_esppq` again, with its arena's link section named (`tests/arena_section.rs` places
/// its own copy with the generated macro; this one runs in the tests over every module).
pub mod digits_esppq_arena_section {
    include!(concat!(env!("OUT_DIR"), "/digits_esppq_arena_section.rs"));
}

/// `digits_esppq` again, with Gemm rendered from the user template in `templates-override/`.
pub mod digits_esppq_gemm_override {
    include!(concat!(env!("OUT_DIR"), "/digits_esppq_gemm_override.rs"));
}

/// `digits_qat` with its first 8 recorded samples embedded for `Model::self_test`
/// (`--embed-tests`).
pub mod digits_qat_self_test {
    include!(concat!(env!("OUT_DIR"), "/digits_qat_self_test.rs"));
}

/// The same, with one expected output element a step off: `self_test` must report it.
pub mod digits_qat_self_test_corrupted {
    include!(concat!(
        env!("OUT_DIR"),
        "/digits_qat_self_test_corrupted.rs"
    ));
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
    include!(concat!(env!("OUT_DIR"), "/ops_fixtures.rs"));
}

/// The LSTM and GRU fixtures of `models/recurrent/` (made by
/// `examples/ops/make_recurrent_fixtures.py`), one module each, listed by build.rs.
pub mod recurrent {
    include!(concat!(env!("OUT_DIR"), "/recurrent_fixtures.rs"));
}

/// Recurrent fixtures generated for fewer time steps per `run` (build.rs, `STREAMING`).
pub mod streaming {
    /// The modules below, which the module table (whole-sequence modules) does not list.
    pub const MODULES: &[&str] = &[
        "lstm_forward_step",
        "gru_forward_step",
        "kws_gru_pt_step",
        "kws_gru_pt_chunk",
    ];

    pub mod lstm_forward_step {
        include!(concat!(env!("OUT_DIR"), "/streaming/lstm_forward_step.rs"));
    }

    pub mod gru_forward_step {
        include!(concat!(env!("OUT_DIR"), "/streaming/gru_forward_step.rs"));
    }

    pub mod kws_gru_pt_step {
        include!(concat!(env!("OUT_DIR"), "/streaming/kws_gru_pt_step.rs"));
    }

    pub mod kws_gru_pt_chunk {
        include!(concat!(env!("OUT_DIR"), "/streaming/kws_gru_pt_chunk.rs"));
    }
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

/// ESP-PPQ for esp32s3: a digits CNN with a wide-range layer, every layer int8, made by
/// `examples/mixed-precision/make_mixed_precision.py` (as the two below).
pub mod outlier_cnn_int8_esppq {
    include!(concat!(env!("OUT_DIR"), "/outlier_cnn_int8_esppq.rs"));
}

/// The same CNN with int16 activations on its two convolutions, int8 elsewhere.
pub mod outlier_cnn_mixed_esppq {
    include!(concat!(env!("OUT_DIR"), "/outlier_cnn_mixed_esppq.rs"));
}

/// The same CNN with int16 activations on every layer.
pub mod outlier_cnn_int16_esppq {
    include!(concat!(env!("OUT_DIR"), "/outlier_cnn_int16_esppq.rs"));
}

/// ESP-PPQ for esp32s3: the large benchmark model, a MobileNetV2 at 96x96x3 with
/// width 0.5 (0.70 M parameters), made by `examples/bench/make_mobilenet.py`.
pub mod mobilenet_v2_esppq {
    include!(concat!(env!("OUT_DIR"), "/mobilenet_v2_esppq.rs"));
}

/// MLPerf Tiny's DS-CNN for keyword spotting (49x10 input, 12 classes), quantized by ESP-PPQ
/// for esp32s3 (`examples/bench/make_mlperf_tiny.py`, as the three below).
pub mod ds_cnn_kws_esppq {
    include!(concat!(env!("OUT_DIR"), "/ds_cnn_kws_esppq.rs"));
}

/// MLPerf Tiny's ResNet-8 for image classification (32x32x3, 10 classes).
pub mod resnet8_esppq {
    include!(concat!(env!("OUT_DIR"), "/resnet8_esppq.rs"));
}

/// MLPerf Tiny's MobileNetV1 0.25 for visual wake words (96x96x3, 2 classes).
pub mod mobilenet_v1_vww_esppq {
    include!(concat!(env!("OUT_DIR"), "/mobilenet_v1_vww_esppq.rs"));
}

/// MLPerf Tiny's fully connected anomaly-detection autoencoder (640 inputs).
pub mod fc_autoencoder_esppq {
    include!(concat!(env!("OUT_DIR"), "/fc_autoencoder_esppq.rs"));
}

/// Kernel benchmarks (examples/ops/make_op_fixtures.py): a 3x3 convolution with Relu on the
/// small maps of a small CNN's late layers, mostly border, and on maps without padding (the
/// interior kernel), with the same channels.
pub mod smallmap_conv3x3_s2_8x8 {
    include!(concat!(env!("OUT_DIR"), "/smallmap_conv3x3_s2_8x8.rs"));
}
pub mod smallmap_conv3x3_4x4 {
    include!(concat!(env!("OUT_DIR"), "/smallmap_conv3x3_4x4.rs"));
}
pub mod smallmap_conv3x3_2x2 {
    include!(concat!(env!("OUT_DIR"), "/smallmap_conv3x3_2x2.rs"));
}
pub mod smallmap_interior_32 {
    include!(concat!(env!("OUT_DIR"), "/smallmap_interior_32.rs"));
}
pub mod smallmap_interior_64 {
    include!(concat!(env!("OUT_DIR"), "/smallmap_interior_64.rs"));
}

/// The same with `--unroll 1`: the pointwise kernel one MAC at a time.
pub mod mobilenet_v2_esppq_unroll_1 {
    include!(concat!(env!("OUT_DIR"), "/mobilenet_v2_esppq_unroll_1.rs"));
}

/// The same with `--unroll 7`: 3 x 2 register tiles, which leave leftover channels and pixels
/// in every pointwise layer.
pub mod mobilenet_v2_esppq_unroll_7 {
    include!(concat!(env!("OUT_DIR"), "/mobilenet_v2_esppq_unroll_7.rs"));
}

/// torchao PT2E post-training quantization with the power-of-two quantizer of
/// `examples/pytorch/pow2_pt2e.py` (per-channel int8 weights, float biases) of a residual CNN
/// with depthwise and 1x1 convs and a `ReduceMean` pool, exported by
/// `torch.onnx.export(..., dynamo=True)` at opset 18.
pub mod residual_pt2e_ptq {
    include!(concat!(env!("OUT_DIR"), "/residual_pt2e_ptq.rs"));
}

/// The same network after PT2E quantization-aware training.
pub mod residual_pt2e_qat {
    include!(concat!(env!("OUT_DIR"), "/residual_pt2e_qat.rs"));
}

/// The custom-layer example through PT2E and the dynamo exporter: LearnableSwish as a
/// `torch.library` custom op, written as an `onnx2esp.examples` node.
pub mod digits_swish_pt2e {
    include!(concat!(env!("OUT_DIR"), "/digits_swish_pt2e.rs"));
}
