//! The generated modules against ONNX Runtime (graph optimisations off), sample by sample and
//! element by element. Run with `--nocapture` to see the figures.

mod common;

use codegen_tests::{
    digits_esppq, digits_qat, kws1d_esppq, mobilenet_v2_esppq, mobilenet_v2_esppq_unroll_1,
    mobilenet_v2_esppq_unroll_7, residual_cnn_esppq,
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

/// PyTorch QAT keeps float biases. DESIGN.md rounds them to int32 at `ex + ew` (half to
/// even), where ONNX Runtime adds them in float before the output rounding. That moves an
/// output by at most one step when the float sum sits within half a bias step of a rounding
/// boundary, so: at most 1 LSB anywhere, and the predicted class never changes.
#[test]
fn pytorch_qat_digits_matches_within_bias_rounding() {
    let recording = common::load("digits_qat");
    let mut model = digits_qat::Model::new();
    let agreement = common::compare(
        &recording,
        digits_qat::OUTPUT_EXPONENT,
        |x, y| {
            model.predict(
                x.try_into().expect("input length"),
                y.try_into().expect("output length"),
            )
        },
        digits_qat::OUTPUT_LEN,
    );
    agreement.print("digits_qat", &recording);
    assert!(agreement.max_lsb <= 1.0, "{agreement:?}");
    assert_eq!(agreement.argmax_agree, agreement.samples, "{agreement:?}");
}

/// The whole-model fixtures of issue 4 and the MobileNetV2 of issue 8, quantized by ESP-PPQ
/// (int32 biases): every op in them, including the Sigmoid and Tanh tables, must agree with
/// ONNX Runtime bit for bit.
macro_rules! esppq_model_is_bit_exact {
    ($test:ident, $model:ident) => {
        esppq_model_is_bit_exact!($test, $model, stringify!($model));
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

esppq_model_is_bit_exact!(esppq_residual_cnn_is_bit_exact, residual_cnn_esppq);
esppq_model_is_bit_exact!(esppq_kws1d_is_bit_exact, kws1d_esppq);
esppq_model_is_bit_exact!(esppq_mobilenet_v2_is_bit_exact, mobilenet_v2_esppq);
esppq_model_is_bit_exact!(
    unroll_budget_1_is_bit_exact,
    mobilenet_v2_esppq_unroll_1,
    "mobilenet_v2_esppq"
);
esppq_model_is_bit_exact!(
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
