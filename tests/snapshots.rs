//! Snapshots of the generated code for the small fixtures. A change in codegen shows up in
//! review as a readable diff of `tests/snapshots/*.snap`.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test --test snapshots` (or
//! `cargo insta review` with cargo-insta installed), then review and commit the .snap files.
//! On CI (`CI` set) insta never writes and a mismatch fails.

fn generate(fixture: &str) -> String {
    let path = format!(
        "{}/codegen-tests/models/{fixture}.onnx",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    onnx2esp::generate_from_bytes(&bytes, &format!("{fixture}.onnx"))
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
