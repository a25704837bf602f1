//! Snapshots of the generated code for the small fixtures. A change in codegen shows up in
//! review as a readable diff of `tests/snapshots/*.snap`.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test --test snapshots` (or
//! `cargo insta review` with cargo-insta installed), then review and commit the .snap files.
//! On CI (`CI` set) insta never writes and a mismatch fails.

fn generate(fixture: &str) -> String {
    generate_with(fixture, &onnx2esp::Options::default())
}

fn generate_with(fixture: &str, options: &onnx2esp::Options) -> String {
    let path = format!(
        "{}/codegen-tests/models/{fixture}.onnx",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    onnx2esp::generate_with(&bytes, &format!("{fixture}.onnx"), options)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn digits_qat_module() {
    insta::assert_snapshot!("digits_qat", generate("digits_qat"));
}

#[test]
fn digits_esppq_module() {
    insta::assert_snapshot!("digits_esppq", generate("digits_esppq"));
}

/// Only what `arena_link_section` changes, as a diff against the plain module.
#[test]
fn digits_qat_arena_section_items() {
    let options = onnx2esp::Options {
        arena_link_section: Some(".ext_ram.bss".into()),
        ..Default::default()
    };
    let placed = generate_with("digits_qat", &options);
    let diff = similar::TextDiff::from_lines(&generate("digits_qat"), &placed)
        .unified_diff()
        .context_radius(1)
        .to_string();
    insta::assert_snapshot!("digits_qat_arena_section", diff);
}

/// Pointwise layers running in place: one `data` buffer each, one arena window in
/// `run_layers` (table, requantize int8 and int16, arithmetic with a constant).
#[test]
fn in_place_chain_module() {
    insta::assert_snapshot!("in_place_chain", generate("ops/in_place_chain"));
}

/// Only what a weights file changes, as a diff against the plain module: every static of at
/// least 256 bytes (here the Gemm's 1280 weights) is read from `digits_qat.weights.bin`.
#[test]
fn digits_qat_weights_file_items() {
    let path = format!(
        "{}/codegen-tests/models/digits_qat.onnx",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let options = onnx2esp::Options {
        weights_file_threshold: Some(256),
        ..Default::default()
    };
    let generated =
        onnx2esp::generate_files(&bytes, "digits_qat.onnx", "digits_qat", &options).unwrap();
    let file = generated.weights_file.expect("a weights file");
    assert_eq!(file.name, "digits_qat.weights.bin");
    assert_eq!(file.bytes.len(), 16 + 1280);
    let diff = similar::TextDiff::from_lines(&generate("digits_qat"), &generated.code)
        .unified_diff()
        .context_radius(1)
        .to_string();
    insta::assert_snapshot!("digits_qat_weights_file", diff);
}

/// A custom layer rendered from the example's template, with the template's `//` comment
/// kept in the kernel.
#[test]
fn swish_layer_custom_module() {
    let path = format!(
        "{}/examples/custom-layer/models/swish_layer.onnx",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let options = onnx2esp::Options {
        templates: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/custom-layer/templates"),
        ),
        ..Default::default()
    };
    let code = onnx2esp::generate_with(&bytes, "swish_layer.onnx", &options)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        code.contains("// Planes run channel by channel"),
        "the template's comment is kept"
    );
    insta::assert_snapshot!("swish_layer", code);
}
