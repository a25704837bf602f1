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
