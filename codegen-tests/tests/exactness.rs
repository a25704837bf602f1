//! The generated modules against ONNX Runtime (graph optimisations off), sample by sample and
//! element by element. Run with `--nocapture` to see the figures.

mod common;

use codegen_tests::{
    digits_esppq, digits_qat, kws1d_esppq, mobilenet_v2_esppq, residual_cnn_esppq,
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
        #[test]
        fn $test() {
            let name = stringify!($model);
            let recording = common::load(name);
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
