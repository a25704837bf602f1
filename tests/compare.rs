//! `onnx2esp compare`: the module, built for the host and traced layer by layer, against a
//! reference run in tract with the same tensors exposed. A correct model agrees on every
//! layer; a custom-layer template with a sign error is caught at its own layer, not before
//! and not only at the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The first `count` recorded inputs of a model's recording, as a `.npy` in a fresh
/// directory `name` of the target's temporary directory.
fn recorded_inputs(recording: &str, name: &str, count: usize) -> PathBuf {
    let text = std::fs::read_to_string(format!("{ROOT}/{recording}")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = &json["inputs"].as_array().unwrap()[..count];
    let values: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter())
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inputs.npy");
    let shape = [count, 1, 8, 8];
    onnx2esp::npy::write(&path, &shape, &values).unwrap();
    path
}

fn compare(args: &[&str]) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
        .arg("compare")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

#[test]
fn a_built_in_model_agrees_with_tract_on_every_layer() {
    let inputs = recorded_inputs(
        "codegen-tests/models/digits_qat.expected.json",
        "compare-digits",
        20,
    );
    let model = format!("{ROOT}/examples/models/digits.onnx");
    let (output, stdout) = compare(&[&model, "--inputs", inputs.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    for line in [
        "layer 0 (/conv/Conv): 10240/10240 elements equal",
        "layer 1 (/pool/MaxPool): 2560/2560 elements equal",
        "layer 2 (/fc/Gemm): 200/200 elements equal",
        "no layer differs beyond the tolerance",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in\n{stdout}");
    }
}

#[test]
fn a_wrong_custom_template_is_caught_at_its_layer() {
    let custom = format!("{ROOT}/examples/custom-layer");
    let inputs = recorded_inputs(
        "examples/custom-layer/models/digits_swish.expected.json",
        "compare-swish",
        40,
    );
    let model = format!("{custom}/models/digits_swish.onnx");
    let reference = format!("{custom}/reference/digits_swish_reference.onnx");
    let run = |templates: &str| {
        compare(&[
            &model,
            "--inputs",
            inputs.to_str().unwrap(),
            "--reference",
            &reference,
            "--templates",
            templates,
            "--tolerance",
            "1",
        ])
    };
    let (good, stdout) = run(&format!("{custom}/templates"));
    assert_eq!(good.status.code(), Some(0), "{stdout}");

    // The same template with the sign of the exponent lost: x * sigmoid(-beta * x).
    let wrong = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare-wrong-templates");
    let domain = wrong.join("onnx2esp.examples");
    std::fs::create_dir_all(&domain).unwrap();
    let template = std::fs::read_to_string(format!(
        "{custom}/templates/onnx2esp.examples/LearnableSwish.rs.tera"
    ))
    .unwrap();
    let planted = template.replace("exp(-(beta * x))", "exp(beta * x)");
    assert_ne!(planted, template, "the plant must apply");
    std::fs::write(domain.join("LearnableSwish.rs.tera"), planted).unwrap();
    let (bad, stdout) = run(wrong.to_str().unwrap());
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("layer 0 (/conv/Conv): 20480/20480 elements equal"),
        "the layer before the custom one agrees:\n{stdout}"
    );
    assert!(
        stdout.contains("first difference: layer 1 (/swish/LearnableSwish), sample 0"),
        "the first difference is the custom layer's:\n{stdout}"
    );
}
