//! User templates: custom layers, overrides of built-in kernels, and the errors a broken or
//! missing template produces.

mod common;

use common::*;
use onnx2esp::{generate_with, Error, Options};
use std::path::PathBuf;

/// A fresh template directory with the given files (relative path, contents).
fn template_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("templates")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn options(dir: PathBuf) -> Options {
    Options {
        templates: Some(dir),
        ..Options::default()
    }
}

/// `x → Q → DQ → my.ops::Double → Q → DQ → y`, and a second custom node when `two`.
fn custom_model(two: bool) -> Vec<u8> {
    let mut double = node("Double", "double_it", &["xd"], &["d"]);
    double.domain = "my.ops".into();
    let mut nodes = vec![
        node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
        node("DequantizeLinear", "dq", &["xq", "s", "z"], &["xd"]),
        double,
        node("QuantizeLinear", "q_out", &["d", "s2", "z"], &["dq_in"]),
        node("DequantizeLinear", "dq_out", &["dq_in", "s2", "z"], &["y"]),
    ];
    if two {
        let mut halve = node("Halve", "halve_it", &["y0"], &["y"]);
        halve.domain = "my.ops".into();
        nodes[4].output = vec!["y0".into()];
        nodes.push(halve);
    }
    model(
        nodes,
        vec![
            tensor_f32("s", &[], &[0.25]),
            tensor_f32("s2", &[], &[0.5]),
            tensor_i8("z", &[], &[0]),
        ],
        &[1, 4],
        &[1, 4],
    )
}

const DOUBLE: &str = r#"fn {{ signature }} {
    for (y, x) in output.iter_mut().zip(input.iter()) {
        *y = {{ requantize(value="2 * (*x as i32)", shift=output.exponent - inputs[0].exponent) }};
    }
}
"#;

#[test]
fn a_custom_layer_renders_from_its_domain_directory() {
    let dir = template_dir("custom", &[("my.ops/Double.rs.tera", DOUBLE)]);
    let code = generate_with(&custom_model(false), "custom.onnx", &options(dir)).unwrap();
    // Input at 2^-2, output at 2^-1: the shift is 1 and is a literal in the generated code.
    assert!(
        code.contains("fn double_0(input: &[i8; 4], output: &mut [i8; 4])"),
        "{code}"
    );
    assert!(code.contains("requantize_i8(2 * (*x as i32), 1)"), "{code}");
}

#[test]
fn a_user_template_overrides_the_built_in_kernel() {
    let gemm = r#"fn {{ signature }} {
    // Hand-written replacement: plain index loops.
    for n in 0..{{ out_features }} {
        let mut hand_tuned_acc: i32 = {{ bias }}.0[n];
        for k in 0..{{ in_features }} {
            hand_tuned_acc += input[k] as i32 * {{ weights }}.0[n][k] as i32;
        }
        output[n] = {{ requantize(value="hand_tuned_acc", shift=shift) }};
    }
}
"#;
    let dir = template_dir("override", &[("Gemm.rs.tera", gemm)]);
    let code = generate_with(
        &dense_model(0.125, 0.0625, 0.5, 0),
        "dense.onnx",
        &options(dir),
    )
    .unwrap();
    assert!(code.contains("hand_tuned_acc"), "{code}");
    let default =
        onnx2esp::generate_from_bytes(&dense_model(0.125, 0.0625, 0.5, 0), "dense.onnx").unwrap();
    assert!(!default.contains("hand_tuned_acc"));
}

#[test]
fn a_template_syntax_error_names_the_file_its_line_and_the_node() {
    let broken = "fn {{ signature }} {\n    {% if %}\n}\n";
    let dir = template_dir("syntax", &[("my.ops/Double.rs.tera", broken)]);
    let err = generate_with(&custom_model(false), "custom.onnx", &options(dir)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Template { .. }), "{err:?}");
    assert!(text.contains("my.ops/Double.rs.tera"), "{text}");
    assert!(text.contains("node 'double_it'"), "{text}");
    assert!(
        text.contains("2:"),
        "the template's own line is given: {text}"
    );
    println!("{text}");
}

#[test]
fn template_output_that_is_not_rust_names_the_file_and_the_node_and_shows_it() {
    let bad = "fn {{ signature }} {\n    let = ;\n}\n";
    let dir = template_dir("invalid", &[("my.ops/Double.rs.tera", bad)]);
    let err = generate_with(&custom_model(false), "custom.onnx", &options(dir)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::InvalidRust { .. }), "{err:?}");
    assert!(text.contains("my.ops/Double.rs.tera"), "{text}");
    assert!(text.contains("node 'double_it'"), "{text}");
    assert!(text.contains("let = ;"), "the snippet is shown: {text}");
}

#[test]
fn every_node_without_an_implementation_is_listed_with_its_template_path() {
    let dir = template_dir("empty", &[]);
    let err = generate_with(&custom_model(true), "custom.onnx", &options(dir.clone())).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::Unsupported { count: 2, .. }),
        "{err:?}"
    );
    let double = dir.join("my.ops/Double.rs.tera");
    let halve = dir.join("my.ops/Halve.rs.tera");
    assert!(text.contains("node 'double_it' (my.ops::Double)"), "{text}");
    assert!(text.contains(&double.display().to_string()), "{text}");
    assert!(text.contains("node 'halve_it' (my.ops::Halve)"), "{text}");
    assert!(text.contains(&halve.display().to_string()), "{text}");
}

/// `x → Q → DQ → my.ops::Double → Relu → Q → DQ → y`.
fn custom_then_relu_model() -> Vec<u8> {
    let mut double = node("Double", "double_it", &["xd"], &["d"]);
    double.domain = "my.ops".into();
    model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s", "z"], &["xd"]),
            double,
            node("Relu", "relu", &["d"], &["r"]),
            node("QuantizeLinear", "q_out", &["r", "s2", "z"], &["rq"]),
            node("DequantizeLinear", "dq_out", &["rq", "s2", "z"], &["y"]),
        ],
        vec![
            tensor_f32("s", &[], &[0.25]),
            tensor_f32("s2", &[], &[0.5]),
            tensor_i8("z", &[], &[0]),
        ],
        &[1, 4],
        &[1, 4],
    )
}

/// Compiles a generated module with a `main` that runs it on `input` (`run`, int8) and
/// returns its int8 output.
fn run_module(name: &str, code: &str, input: &[i8]) -> Vec<i8> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("run")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.rs"), code).unwrap();
    let main = format!(
        "mod model {{ include!(\"model.rs\"); }}\nfn main() {{\n    let input: [i8; model::INPUT_LEN] = {input:?};\n    let mut output = [0i8; model::OUTPUT_LEN];\n    model::Model::new().run(&input, &mut output);\n    println!(\"{{output:?}}\");\n}}\n"
    );
    std::fs::write(dir.join("main.rs"), main).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let binary = dir.join("main");
    let built = std::process::Command::new(rustc)
        .args(["--edition", "2021", "-o"])
        .arg(&binary)
        .arg(dir.join("main.rs"))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}\n{code}",
        String::from_utf8_lossy(&built.stderr)
    );
    let ran = std::process::Command::new(&binary).output().unwrap();
    let text = String::from_utf8(ran.stdout).unwrap();
    text.trim()
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|v| v.parse().unwrap())
        .collect()
}

const INPUT: [i8; 4] = [-128, -3, 5, 127];

/// The reference for the Relu: the same custom layer without it, then `max(0)` on its int8
/// output (Relu commutes with rounding, and 0 is on every grid).
#[test]
fn a_relu_after_a_custom_layer_that_ignores_the_clamp_stays_a_layer_of_its_own() {
    let dir = template_dir("relu_after", &[("my.ops/Double.rs.tera", DOUBLE)]);
    let with_relu = generate_with(
        &custom_then_relu_model(),
        "relu.onnx",
        &options(dir.clone()),
    )
    .unwrap();
    let alone = generate_with(&custom_model(false), "custom.onnx", &options(dir)).unwrap();
    let expected: Vec<i8> = run_module("double_alone", &alone, &INPUT)
        .iter()
        .map(|&v| v.max(0))
        .collect();
    let got = run_module("double_relu", &with_relu, &INPUT);
    assert_eq!(got, expected, "{with_relu}");
    // Two layers: the custom one, then the Relu.
    assert!(with_relu.contains("fn double_0("), "{with_relu}");
    assert!(with_relu.contains("fn relu_1("), "{with_relu}");
}

/// A template that declares `applies_clamp` gets the Relu fused, as `clamp_lo`/`clamp`.
#[test]
fn a_template_that_declares_applies_clamp_gets_the_relu_fused() {
    let double_clamped = r#"{# onnx2esp: applies_clamp #}
fn {{ signature }} {
    for (y, x) in output.iter_mut().zip(input.iter()) {
        *y = {{ requantize(value="2 * (*x as i32)", shift=output.exponent - inputs[0].exponent) }}{{ clamp }};
    }
}
"#;
    let dir = template_dir("relu_fused", &[("my.ops/Double.rs.tera", double_clamped)]);
    let code = generate_with(&custom_then_relu_model(), "relu.onnx", &options(dir)).unwrap();
    assert!(code.contains("fn double_relu_0("), "{code}");
    assert!(!code.contains("fn relu_1("), "{code}");
    let expected: Vec<i8> = INPUT.iter().map(|&v| v.max(0)).collect();
    assert_eq!(run_module("double_relu_fused", &code, &INPUT), expected);
}

#[test]
fn declaring_applies_clamp_without_reading_the_clamp_is_an_error() {
    let liar = format!("{{# onnx2esp: applies_clamp #}}\n{DOUBLE}");
    let dir = template_dir("relu_liar", &[("my.ops/Double.rs.tera", &liar)]);
    let err = generate_with(&custom_then_relu_model(), "relu.onnx", &options(dir)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("applies_clamp"), "{text}");
    assert!(text.contains("node 'double_it'"), "{text}");
}

/// The generated code names a user template by its path inside the templates directory, so
/// it is the same whether the directory is spelled absolute or relative, and from any
/// working directory: `--check` accepts a module generated with another spelling.
#[test]
fn the_output_does_not_depend_on_how_the_templates_directory_is_spelled() {
    let dir = template_dir("spelling", &[("my.ops/Double.rs.tera", DOUBLE)]);
    let work = dir.parent().unwrap().join("spelling_work");
    std::fs::create_dir_all(work.join("sub")).unwrap();
    std::fs::write(work.join("custom.onnx"), custom_model(false)).unwrap();
    let onnx2esp = |cwd: &std::path::Path, templates: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
            .current_dir(cwd)
            .args(["generate", "--templates"])
            .arg(templates)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let module = work.join("model.rs");
    let module_arg = module.to_str().unwrap();
    let model_arg = work.join("custom.onnx");
    let model_arg = model_arg.to_str().unwrap();
    // Generated from the work directory with a relative path...
    let (code, stderr) = onnx2esp(
        &work,
        std::path::Path::new("../spelling"),
        &[model_arg, "-o", module_arg],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let written = std::fs::read_to_string(&module).unwrap();
    assert!(
        written.contains("custom layer from template my.ops/Double.rs.tera."),
        "{written}"
    );
    // ...is up to date with the absolute path, and with relative paths from elsewhere.
    for (cwd, templates) in [
        (work.clone(), dir.clone()),
        (work.join("sub"), PathBuf::from("../../spelling")),
        (dir.clone(), PathBuf::from(".")),
    ] {
        let (code, stderr) = onnx2esp(&cwd, &templates, &[model_arg, "-o", module_arg, "--check"]);
        assert_eq!(
            code,
            Some(0),
            "--check from {} with {}: {stderr}",
            cwd.display(),
            templates.display()
        );
    }
    // Builder with the absolute and a relative spelling (relative to this test's working
    // directory, the crate root) writes the same module.
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(&dir, &cwd);
    // Into the same file: its path relative to the model is part of the header's command.
    for templates in [dir.clone(), relative] {
        let out = module.clone();
        std::fs::remove_file(&out).unwrap();
        onnx2esp::Builder::new(work.join("custom.onnx"))
            .templates(&templates)
            .output(&out)
            .rerun_if_changed(false)
            .generate()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            written,
            "Builder with {}",
            templates.display()
        );
    }
}

/// `target` relative to `base` (both absolute), with `..` where needed.
fn pathdiff(target: &std::path::Path, base: &std::path::Path) -> PathBuf {
    let (t, b): (Vec<_>, Vec<_>) = (target.components().collect(), base.components().collect());
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut path = PathBuf::new();
    for _ in common..b.len() {
        path.push("..");
    }
    for part in &t[common..] {
        path.push(part);
    }
    path
}

/// A template whose rendered Rust does not parse: the error gives the template's line, which
/// differs from the rendered one (the tera lines before render to nothing).
#[test]
fn a_rust_syntax_error_is_reported_at_the_template_line_that_wrote_it() {
    let bad = "{#- A comment\n    over two lines. -#}\n{%- set x = inputs[0] -%}\n{%- set n = x.len -%}\nfn {{ signature }} {\n    for (y, x) in output.iter_mut().zip(input.iter()) {\n        *y = *x;\n    }\n    let = {{ n }};\n}\n";
    let dir = template_dir("rust_line", &[("my.ops/Double.rs.tera", bad)]);
    let err = generate_with(&custom_model(false), "custom.onnx", &options(dir)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("template line 9,"), "{text}");
    assert!(text.contains("rendered line 5"), "{text}");
    assert!(text.contains("let = 4;"), "{text}");
}

#[test]
fn an_unknown_variable_gets_its_line_and_the_nearest_name() {
    let typo = "fn {{ signature }} {\n    let shift = 1;\n    let _e = {{ inputs[0].exponant }};\n    output.copy_from_slice(input);\n}\n";
    let dir = template_dir("typo", &[("my.ops/Double.rs.tera", typo)]);
    let err = generate_with(&custom_model(false), "custom.onnx", &options(dir)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("used at template line 3"), "{text}");
    assert!(text.contains("did you mean `inputs[0].exponent`"), "{text}");

    let top = "fn {{ signature }} {\n    let _n = \"{{ nod.name }}\";\n    output.copy_from_slice(input);\n}\n";
    let dir = template_dir("typo_top", &[("my.ops/Double.rs.tera", top)]);
    let text = generate_with(&custom_model(false), "custom.onnx", &options(dir))
        .unwrap_err()
        .to_string();
    assert!(text.contains("used at template line 2"), "{text}");
    assert!(text.contains("did you mean `node`"), "{text}");
}

/// `generate --dump-context NODE` prints the context the node's template gets, as JSON.
#[test]
fn dump_context_prints_a_layers_template_context_as_json() {
    let dir = template_dir("dump", &[("my.ops/Double.rs.tera", DOUBLE)]);
    let work = dir.parent().unwrap().join("dump_work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("custom.onnx"), custom_model(false)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
        .args(["generate", "--templates"])
        .arg(&dir)
        .arg(work.join("custom.onnx"))
        .args(["--dump-context", "double_it"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let context: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(context["node"]["name"], "double_it");
    assert_eq!(context["node"]["domain"], "my.ops");
    assert_eq!(context["inputs"][0]["exponent"], -2);
    assert_eq!(context["output"]["exponent"], -1);
    assert_eq!(context["inputs"][0]["shape"], serde_json::json!([1, 4]));
    assert_eq!(
        context["signature"],
        "double_0(input: &[i8; 4], output: &mut [i8; 4])"
    );
    // An unknown node is an error that lists the layers.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
        .args(["generate", "--templates"])
        .arg(&dir)
        .arg(work.join("custom.onnx"))
        .args(["--dump-context", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("'double_it'"), "{stderr}");
}
