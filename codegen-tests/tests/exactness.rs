//! The generated modules against ONNX Runtime (graph optimisations off), sample by sample and
//! element by element. Run with `--nocapture` to see the figures.

mod common;

use codegen_tests::{
    digits_esppq, digits_ort_int16_snap, digits_ort_perchannel_ceil, digits_ort_perchannel_snap,
    digits_ort_qdq_ceil, digits_ort_qdq_snap, digits_ort_qoperator_snap, digits_ort_uint8_snap,
    digits_ptq, digits_qat, ds_cnn_kws_esppq, fc_autoencoder_esppq, kws1d_esppq,
    mlp_ort_flatten_snap, mobilenet_v1_vww_esppq, mobilenet_v2_esppq, mobilenet_v2_esppq_unroll_1,
    mobilenet_v2_esppq_unroll_7, outlier_cnn_int16_esppq, outlier_cnn_int8_esppq,
    outlier_cnn_mixed_esppq, residual_cnn_esppq, residual_pt2e_ptq, residual_pt2e_qat,
    resnet8_esppq, smallmap_conv3x3_2x2, smallmap_conv3x3_4x4, smallmap_conv3x3_s2_8x8,
    smallmap_interior_32, smallmap_interior_64,
};

/// ESP-PPQ gives int32 biases at exactly `ex + ew`, so every step of the integer pipeline
/// equals ONNX Runtime's float QDQ arithmetic: no tolerance at all.
#[test]
fn esppq_digits_is_bit_exact() {
    let recording = common::load("digits_esppq");
    let mut model = digits_esppq::Model::new();
    let agreement = common::compare(
        &recording,
        digits_esppq::OUTPUT_EXPONENT,
        |x, y| {
            model.predict(
                x.try_into().expect("input length"),
                y.try_into().expect("output length"),
            )
        },
        digits_esppq::OUTPUT_LEN,
    );
    agreement.print("digits_esppq", &recording);
    assert_eq!(
        agreement.exact_elements, agreement.elements,
        "{agreement:?}"
    );
}

/// Every element of the module's `predict` equals ONNX Runtime's recording (the module's own
/// recording, or `$recording` for a module generated with other options).
macro_rules! model_is_bit_exact {
    ($test:ident, $model:ident) => {
        model_is_bit_exact!($test, $model, stringify!($model));
    };
    // A module generated with other options from the model whose recording is `$recording`.
    ($test:ident, $model:ident, $recording:expr) => {
        #[test]
        fn $test() {
            let name = stringify!($model);
            let recording = common::load($recording);
            let mut model = $model::Model::new();
            let agreement = common::compare(
                &recording,
                $model::OUTPUT_EXPONENT,
                |x, y| {
                    model.predict(
                        x.try_into().expect("input length"),
                        y.try_into().expect("output length"),
                    )
                },
                $model::OUTPUT_LEN,
            );
            agreement.print(name, &recording);
            assert_eq!(
                agreement.exact_elements, agreement.elements,
                "{agreement:?}"
            );
        }
    };
}

// PyTorch keeps float biases, which ONNX Runtime adds in f32 to the exact sum of products
// before QuantizeLinear rounds. The generator proves, per channel, an integer pipeline
// equal to that arithmetic on every reachable accumulator, so these are bit-exact too.
model_is_bit_exact!(pytorch_qat_digits_is_bit_exact, digits_qat);
model_is_bit_exact!(pytorch_ptq_digits_is_bit_exact, digits_ptq);

/// The committed rewritten models are what `onnx2esp rewrite` writes today, so that the
/// recordings above describe the arithmetic of the snapped modules (compared as loaded
/// graphs: the file's producer version may differ).
#[test]
fn recorded_rewrites_are_current() {
    use onnx2esp::{ScalePolicy, SnapRule};
    let models = env!("CARGO_MANIFEST_DIR").to_string() + "/models/ort";
    let load = |bytes: &[u8]| {
        let graph = onnx2esp::pipeline::load(bytes, "m.onnx", &Default::default())
            .expect("the rewritten model loads");
        format!(
            "{:?}",
            (
                &graph.inputs,
                &graph.outputs,
                &graph.constants,
                &graph.nodes
            )
        )
    };
    for (fixture, rule, module) in [
        ("digits_ort_qdq", SnapRule::Nearest, "digits_ort_qdq_snap"),
        ("digits_ort_qdq", SnapRule::Ceil, "digits_ort_qdq_ceil"),
        (
            "digits_ort_perchannel",
            SnapRule::Nearest,
            "digits_ort_perchannel_snap",
        ),
        (
            "digits_ort_perchannel",
            SnapRule::Ceil,
            "digits_ort_perchannel_ceil",
        ),
        (
            "digits_ort_qoperator",
            SnapRule::Nearest,
            "digits_ort_qoperator_snap",
        ),
        (
            "digits_ort_uint8",
            SnapRule::Nearest,
            "digits_ort_uint8_snap",
        ),
        (
            "digits_ort_int16",
            SnapRule::Nearest,
            "digits_ort_int16_snap",
        ),
        ("mlp_ort_flatten", SnapRule::Nearest, "mlp_ort_flatten_snap"),
    ] {
        let original = std::fs::read(format!("{models}/{fixture}.onnx")).expect("fixture");
        let options = onnx2esp::Options {
            scales: ScalePolicy::Snap(rule),
            ..Default::default()
        };
        let (rewritten, _) = onnx2esp::rewrite_model(&original, "m.onnx", &options)
            .unwrap_or_else(|e| panic!("{fixture}: {e}"));
        let committed =
            std::fs::read(format!("{models}/rewritten/{module}.onnx")).expect("rewritten model");
        assert!(
            load(&rewritten) == load(&committed),
            "{module}: rerun examples/pytorch/record_rewritten.py"
        );
    }
}

// `--scales snap` changes a model's arithmetic, so its module is compared with ONNX Runtime
// running the model `onnx2esp rewrite` writes (recorded by
// `examples/pytorch/record_rewritten.py`): every snapped fixture, int16 and QOperator
// included, bit for bit.
model_is_bit_exact!(
    rewritten_qdq_snap_is_bit_exact,
    digits_ort_qdq_snap,
    concat!("ort/rewritten/", stringify!(digits_ort_qdq_snap))
);
model_is_bit_exact!(
    rewritten_qdq_ceil_is_bit_exact,
    digits_ort_qdq_ceil,
    concat!("ort/rewritten/", stringify!(digits_ort_qdq_ceil))
);
model_is_bit_exact!(
    rewritten_per_channel_snap_is_bit_exact,
    digits_ort_perchannel_snap,
    concat!("ort/rewritten/", stringify!(digits_ort_perchannel_snap))
);
model_is_bit_exact!(
    rewritten_per_channel_ceil_is_bit_exact,
    digits_ort_perchannel_ceil,
    concat!("ort/rewritten/", stringify!(digits_ort_perchannel_ceil))
);
model_is_bit_exact!(
    rewritten_qoperator_snap_is_bit_exact,
    digits_ort_qoperator_snap,
    concat!("ort/rewritten/", stringify!(digits_ort_qoperator_snap))
);
model_is_bit_exact!(
    rewritten_uint8_snap_is_bit_exact,
    digits_ort_uint8_snap,
    concat!("ort/rewritten/", stringify!(digits_ort_uint8_snap))
);
model_is_bit_exact!(
    rewritten_int16_snap_is_bit_exact,
    digits_ort_int16_snap,
    concat!("ort/rewritten/", stringify!(digits_ort_int16_snap))
);
model_is_bit_exact!(
    rewritten_flatten_mlp_snap_is_bit_exact,
    mlp_ort_flatten_snap,
    concat!("ort/rewritten/", stringify!(mlp_ort_flatten_snap))
);

// The ESP-PPQ whole-model fixtures and MobileNetV2, quantized by ESP-PPQ
// (int32 biases): every op in them, including the Sigmoid and Tanh tables, must agree with
// ONNX Runtime bit for bit.

model_is_bit_exact!(esppq_residual_cnn_is_bit_exact, residual_cnn_esppq);
model_is_bit_exact!(esppq_kws1d_is_bit_exact, kws1d_esppq);
model_is_bit_exact!(esppq_mobilenet_v2_is_bit_exact, mobilenet_v2_esppq);

// The mixed-precision example (examples/mixed-precision/make_mixed_precision.py): ESP-PPQ's
// int16 layers, the int16 -> int8 requantization between them and the int8 layers, and the
// all-int8 and all-int16 versions of the same model.
model_is_bit_exact!(esppq_outlier_cnn_int8_is_bit_exact, outlier_cnn_int8_esppq);
model_is_bit_exact!(
    esppq_outlier_cnn_mixed_is_bit_exact,
    outlier_cnn_mixed_esppq
);
model_is_bit_exact!(
    esppq_outlier_cnn_int16_is_bit_exact,
    outlier_cnn_int16_esppq
);

// The MLPerf Tiny architectures at their published sizes (examples/bench/make_mlperf_tiny.py).
model_is_bit_exact!(mlperf_ds_cnn_is_bit_exact, ds_cnn_kws_esppq);
model_is_bit_exact!(mlperf_resnet8_is_bit_exact, resnet8_esppq);
model_is_bit_exact!(mlperf_mobilenet_v1_vww_is_bit_exact, mobilenet_v1_vww_esppq);
model_is_bit_exact!(mlperf_fc_autoencoder_is_bit_exact, fc_autoencoder_esppq);

// The kernel benchmarks (examples/ops/make_op_fixtures.py): 3x3 convolutions on small maps,
// whose every pixel is written out with the taps inside the input, and their interior
// references.
model_is_bit_exact!(smallmap_stride2_is_bit_exact, smallmap_conv3x3_s2_8x8);
model_is_bit_exact!(smallmap_4x4_is_bit_exact, smallmap_conv3x3_4x4);
model_is_bit_exact!(smallmap_2x2_is_bit_exact, smallmap_conv3x3_2x2);
model_is_bit_exact!(smallmap_interior_32_is_bit_exact, smallmap_interior_32);
model_is_bit_exact!(smallmap_interior_64_is_bit_exact, smallmap_interior_64);
model_is_bit_exact!(
    unroll_budget_1_is_bit_exact,
    mobilenet_v2_esppq_unroll_1,
    "mobilenet_v2_esppq"
);
model_is_bit_exact!(
    unroll_budget_7_is_bit_exact,
    mobilenet_v2_esppq_unroll_7,
    "mobilenet_v2_esppq"
);

/// `--rounding half-up` against ESP-PPQ's own simulation of the same model for esp32s3, whose
/// quantization policy rounds half up (`RoundingPolicy.ROUND_HALF_UP`, as ESP-DL's S3 kernels);
/// recorded by `examples/pytorch/quantize_digits_esppq.py` on the same 360 test images. ESP-PPQ
/// dequantizes, computes each layer in f32 (exact here: int8 products of power-of-two scales with
/// int32 biases stay far below 2^24) and quantizes with `floor(x / scale + 0.5)`, input included,
/// so the half-up integer pipeline must equal it element for element.
#[test]
fn esppq_digits_half_up_against_esppq_simulation() {
    use codegen_tests::digits_esppq_half_up as model_half_up;
    let simulation = common::load_from_repo("codegen-tests/models/digits_esppq.simulated.json");
    let mut model = model_half_up::Model::new();
    let agreement = common::compare_predict(&simulation, model_half_up::OUTPUT_EXPONENT, |x, y| {
        model.predict(x, y)
    });
    agreement.print(
        "digits_esppq --rounding half-up vs ESP-PPQ simulation",
        &simulation,
    );
    // The half-even module against the same simulation, for contrast.
    let mut even = digits_esppq::Model::new();
    let contrast = common::compare_predict(&simulation, digits_esppq::OUTPUT_EXPONENT, |x, y| {
        even.predict(x, y)
    });
    contrast.print(
        "digits_esppq --rounding half-even vs ESP-PPQ simulation",
        &simulation,
    );
    assert_eq!(
        agreement.exact_elements, agreement.elements,
        "{agreement:?}"
    );
    // Ties do occur in this model, so the rounding mode is what makes the two agree.
    assert!(contrast.exact_elements < contrast.elements, "{contrast:?}");
}

/// A NaN fails every check built on [`common::compare`]: the LSB distance becomes infinite
/// (`f64::max` alone would drop it), the SQNR minus infinity, and the sample's argmax never
/// agrees, whether the NaN is in the generated output or in the recording.
#[test]
fn nan_fails_every_tolerance() {
    for (generated, recorded) in [
        ([0.5f32, f32::NAN], [0.5f32, 0.25]),
        ([0.5, 0.25], [0.5, f32::NAN]),
    ] {
        let recording = common::Recording {
            reference: "hand-made".into(),
            labels: None,
            reference_accuracy: None,
            framework_accuracy: None,
            inputs: vec![vec![0.0]],
            outputs: vec![recorded.to_vec()],
        };
        let agreement = common::compare(&recording, -2, |_, y| y.copy_from_slice(&generated), 2);
        assert_eq!(agreement.nan_elements, 1, "{agreement:?}");
        assert_eq!(agreement.max_lsb, f64::INFINITY, "{agreement:?}");
        assert_eq!(agreement.sqnr_db(), f64::NEG_INFINITY, "{agreement:?}");
        assert_eq!(agreement.argmax_agree, 0, "{agreement:?}");
        assert!(
            agreement.exact_elements < agreement.elements,
            "{agreement:?}"
        );
    }
}

// The PT2E fixtures (torchao, power-of-two quantizer, dynamo exporter at opset 18) keep float
// biases like `digits_qat`, and are bit-exact the same way.
model_is_bit_exact!(pt2e_ptq_residual_is_bit_exact, residual_pt2e_ptq);
model_is_bit_exact!(pt2e_qat_residual_is_bit_exact, residual_pt2e_qat);

/// The custom layer through the PT2E flow and the dynamo exporter (its recording lives with
/// the custom-layer example).
#[test]
fn pt2e_custom_layer_is_bit_exact() {
    let recording =
        common::load_from_repo("examples/custom-layer/models/digits_swish_pt2e.expected.json");
    let mut model = codegen_tests::digits_swish_pt2e::Model::new();
    let agreement = common::compare_predict(
        &recording,
        codegen_tests::digits_swish_pt2e::OUTPUT_EXPONENT,
        |x, y| model.predict(x, y),
    );
    agreement.print("digits_swish_pt2e", &recording);
    assert_eq!(
        agreement.exact_elements, agreement.elements,
        "{agreement:?}"
    );
}
