//! The custom-layer example and the override of a built-in kernel, both rendered from user
//! templates by build.rs.

mod common;

use codegen_tests::{digits_esppq, digits_esppq_gemm_override, digits_swish, swish_layer};

/// The LearnableSwish layer alone against the Python integer reference of
/// `examples/custom-layer/SEMANTICS.md`, on the activations that reach it in the trained
/// model: every element must be identical.
#[test]
fn learnable_swish_matches_the_python_integer_reference_bit_for_bit() {
    let recording =
        common::load_from_repo("examples/custom-layer/models/swish_layer.expected.json");
    let mut model = swish_layer::Model::new();
    let agreement = common::compare(
        &recording,
        swish_layer::OUTPUT_EXPONENT,
        |x, y| {
            model.predict(
                x.try_into().expect("input length"),
                y.try_into().expect("output length"),
            )
        },
        swish_layer::OUTPUT_LEN,
    );
    agreement.print("swish_layer", &recording);
    assert_eq!(
        agreement.exact_elements, agreement.elements,
        "{agreement:?}"
    );
}

/// The whole model against PyTorch's fake-quant forward (ONNX Runtime cannot run the custom
/// op). Two roundings differ by design: float biases become int32 (DESIGN.md), and PyTorch
/// evaluates the swish in f32 where the table uses f64. Each can move an output by one step,
/// so: at most 1 LSB, and the predicted class agrees on every sample.
#[test]
fn digits_swish_matches_pytorch_within_one_step() {
    let recording =
        common::load_from_repo("examples/custom-layer/models/digits_swish.expected.json");
    let mut model = digits_swish::Model::new();
    let agreement = common::compare(
        &recording,
        digits_swish::OUTPUT_EXPONENT,
        |x, y| {
            model.predict(
                x.try_into().expect("input length"),
                y.try_into().expect("output length"),
            )
        },
        digits_swish::OUTPUT_LEN,
    );
    agreement.print("digits_swish", &recording);
    assert!(agreement.max_lsb <= 1.0, "{agreement:?}");
    assert_eq!(agreement.argmax_agree, agreement.samples, "{agreement:?}");
}

/// A user template that overrides the built-in Gemm kernel gives the same outputs on every
/// recorded sample.
#[test]
fn overriding_gemm_keeps_every_output() {
    let recording = common::load("digits_esppq");
    let (mut built_in, mut overridden) = (
        digits_esppq::Model::new(),
        digits_esppq_gemm_override::Model::new(),
    );
    for input in &recording.inputs {
        let input: &[f32; digits_esppq::INPUT_LEN] =
            input.as_slice().try_into().expect("input length");
        let (mut a, mut b) = (
            [0f32; digits_esppq::OUTPUT_LEN],
            [0f32; digits_esppq::OUTPUT_LEN],
        );
        built_in.predict(input, &mut a);
        overridden.predict(input, &mut b);
        assert_eq!(a, b);
    }
}
