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
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/custom-layer/templates"),
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

/// The header and the layer functions of one generated module: what the templates produce,
/// without the helpers every module shares or the weights.
fn header_and_layers(code: &str) -> String {
    let mut kept: Vec<&str> = code.lines().take_while(|l| l.starts_with("//")).collect();
    let mut in_layer = false;
    for line in code.lines() {
        // Every layer function is documented `/// Layer N: ...` and ends at the first closing
        // brace in column 0 (the generated code is formatted).
        if line.starts_with("/// Layer ") {
            in_layer = true;
            kept.push("");
        }
        if in_layer {
            kept.push(line);
            in_layer = line != "}";
        }
    }
    kept.join("\n") + "\n"
}

/// Every single-op fixture's header and layer functions, one snapshot each in
/// `tests/snapshots/ops/`, so that a change to any template shows as a diff. Every fixture is
/// checked before the test fails, and the failure lists them all.
#[test]
fn op_fixture_layers() {
    fixture_layers("ops", 100);
}

/// The same for the LSTM and GRU fixtures, in `tests/snapshots/recurrent/`.
#[test]
fn recurrent_fixture_layers() {
    fixture_layers("recurrent", 8);
}

/// Snapshots of every fixture of `codegen-tests/models/{dir}` (at least `least` of them).
fn fixture_layers(dir: &str, least: usize) {
    let path = format!("{}/codegen-tests/models/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut fixtures: Vec<String> = std::fs::read_dir(&path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    fixtures.sort();
    assert!(
        fixtures.len() > least,
        "found {} fixtures in {dir}",
        fixtures.len()
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(format!("snapshots/{dir}"));
    settings.set_prepend_module_to_snapshot(false);
    let _guard = settings.bind_to_scope();
    let mut failed = Vec::new();
    for fixture in &fixtures {
        let code = generate(&format!("{dir}/{fixture}"));
        let layers = header_and_layers(&code);
        assert!(
            layers.contains("/// Layer 0:"),
            "{fixture}: no layer function found"
        );
        let checked =
            std::panic::catch_unwind(|| insta::assert_snapshot!(fixture.as_str(), layers));
        if checked.is_err() {
            failed.push(fixture.as_str());
        }
    }
    assert!(failed.is_empty(), "snapshots differ: {failed:?}");
}
