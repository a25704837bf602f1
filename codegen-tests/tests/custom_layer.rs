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
/// op). Two roundings differ by design: the generated code adds float biases as ONNX Runtime
/// does (docs/numerics.md), not as PyTorch's fake-quant does, and PyTorch evaluates the swish
/// in f32 where the table uses f64. Each can move an output by one step,
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

/// The generated function named `name` (`fn name(` up to the next function), in `code`.
fn function<'a>(code: &'a str, name: &str) -> Option<&'a str> {
    let start = code.find(&format!("\nfn {name}("))? + 1;
    let end = code[start + 1..]
        .find("\nfn ")
        .map_or(code.len(), |e| start + 1 + e);
    Some(&code[start..end])
}

/// The override is really in the module: the Gemm layer's function is rendered from
/// `templates-override/Gemm.rs.tera` (its `overridden_acc` marker) and nothing else is, and the
/// built-in module has no trace of it. Without this, the two tests comparing outputs would
/// pass with the override silently dropped (the modules would be identical).
#[test]
fn the_gemm_override_renders_the_gemm_function() {
    const MARKER: &str = "overridden_acc";
    let overridden = include_str!(concat!(env!("OUT_DIR"), "/digits_esppq_gemm_override.rs"));
    let built_in = include_str!(concat!(env!("OUT_DIR"), "/digits_esppq.rs"));
    // The layer functions, from the header table's `function` column (`// | 2 | gemm_2 | ...`).
    let functions: Vec<&str> = overridden
        .lines()
        .filter_map(|line| line.strip_prefix("// | "))
        .filter_map(|row| {
            let mut cells = row.split('|').map(str::trim);
            cells.next()?.parse::<usize>().ok()?;
            cells.next()
        })
        .collect();
    assert!(functions.len() >= 3, "layer functions: {functions:?}");
    for name in functions {
        let body = function(overridden, name).unwrap_or_else(|| panic!("no fn {name}"));
        assert_eq!(
            body.contains(MARKER),
            name.starts_with("gemm"),
            "{name}: the override must render the Gemm layer and only it:\n{body}"
        );
    }
    assert!(
        !built_in.contains(MARKER),
        "the built-in module has the override's marker"
    );
    assert_ne!(overridden, built_in);
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
