//! `onnx2esp inspect`: the layer table, and the end-to-end comparison of the original model with
//! the rewritten one.

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn inspect(args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
        .arg("inspect")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A power-of-two model needs no rewrite: on the 360 digits test inputs the rewritten model
/// (written back to ONNX and run by tract) gives exactly the original's outputs.
#[test]
fn a_power_of_two_model_is_unchanged_by_the_rewrite() {
    let report = inspect(&[
        &format!("{ROOT}/examples/models/digits.onnx"),
        "--inputs",
        &format!("{ROOT}/examples/models/digits_test_inputs.npy"),
    ]);
    let effect = &report["effect"];
    println!("digits.onnx: {effect}");
    assert_eq!(effect["samples"], 360);
    assert_eq!(effect["argmax_agreement"], 360);
    assert!(effect["sqnr_db"].is_null(), "outputs differ: {effect}");
    let ops: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ops"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["Conv+Relu", "MaxPool", "Gemm"]);
    assert_eq!(report["arena_bytes"], report["peak_live_bytes"]);
}

#[test]
fn random_inputs_are_reproducible() {
    let model = format!("{ROOT}/examples/models/digits.onnx");
    let a = inspect(&[&model, "--samples", "5", "--seed", "7"]);
    let b = inspect(&[&model, "--samples", "5", "--seed", "7"]);
    assert_eq!(a, b);
    assert_eq!(a["effect"]["samples"], 5);
}

#[test]
fn an_input_file_of_the_wrong_size_is_an_error_naming_it() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("seven_floats.npy");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }\n";
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 28]);
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
        .args([
            "inspect",
            &format!("{ROOT}/examples/models/digits.onnx"),
            "--inputs",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("seven_floats.npy") && stderr.contains("whole inputs"),
        "{stderr}"
    );
}

/// ONNX Runtime's quantizer writes scales that are not powers of two: `--scales snap` lists
/// each tensor with its original scale, exponent and error, and measures the cost end to end.
#[test]
fn a_snapped_model_reports_every_tensor_and_the_end_to_end_cost() {
    let report = inspect(&[
        &format!("{ROOT}/codegen-tests/models/ort/digits_ort_qdq.onnx"),
        "--scales",
        "snap",
        "--inputs",
        &format!("{ROOT}/examples/models/digits_test_inputs.npy"),
    ]);
    let tensors = report["tensors"]["tensors"].as_array().unwrap();
    let weight = tensors
        .iter()
        .find(|t| t["tensor"] == "conv.weight_quantized")
        .unwrap();
    assert_eq!(weight["role"], "weight");
    assert_eq!(weight["exponents"], serde_json::json!([-6]));
    assert_eq!(weight["changes"], serde_json::json!(["snapped"]));
    assert!(tensors
        .iter()
        .all(|t| t["changes"] == serde_json::json!(["snapped"])));
    let effect = &report["effect"];
    println!("digits_ort_qdq, --scales snap: {effect}");
    assert!(
        effect["argmax_agreement"].as_u64().unwrap() >= 357,
        "{effect}"
    );
    assert!(effect["sqnr_db"].as_f64().unwrap() > 25.0, "{effect}");
    let conv = &report["layers"][0];
    assert_eq!(conv["node"], "/conv/Conv");
    assert!(conv["accumulator_bound"].as_u64().unwrap() > 0);
}

/// A model with a custom layer cannot run in the float engine; its decomposed reference
/// (`--reference`, the same layer in standard ops) is measured in its place, through the same
/// rewrite, and says which model was measured.
#[test]
fn a_custom_layer_model_is_measured_on_its_decomposed_reference() {
    let custom = format!("{ROOT}/examples/custom-layer");
    let model = format!("{custom}/models/digits_swish.onnx");
    let templates = format!("{custom}/templates");
    let alone = inspect(&[&model, "--templates", &templates, "--samples", "20"]);
    assert!(alone["effect"].is_null(), "{}", alone["effect"]);
    assert!(alone["not_measured"]
        .as_str()
        .unwrap()
        .contains("LearnableSwish"));
    let reference = format!("{custom}/reference/digits_swish_reference.onnx");
    let measured = inspect(&[
        &model,
        "--templates",
        &templates,
        "--samples",
        "20",
        "--reference",
        &reference,
    ]);
    let effect = &measured["effect"];
    assert_eq!(effect["model"], "digits_swish_reference.onnx");
    assert_eq!(effect["samples"], 20);
    assert_eq!(effect["argmax_agreement"], 20);
}
