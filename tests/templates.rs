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
