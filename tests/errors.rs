//! Bad input gets an error that names the node or tensor, never a panic.

mod common;

use common::*;
use onnx2esp::quant::scales::ScaleProblem;
use onnx2esp::{generate_from_bytes, Error};

#[test]
fn a_valid_dense_model_generates() {
    let code = generate_from_bytes(&dense_model(0.125, 0.0625, 0.5, 0), "dense.onnx").unwrap();
    assert!(
        code.contains("pub const OUTPUT_EXPONENT: i32 = -1;"),
        "{code}"
    );
    assert!(
        code.contains("fn gemm_0(input: &[i8; 4], output: &mut [i8; 3])"),
        "{code}"
    );
}

/// The one issue of a `--scales exact` error, for models with one offending tensor.
fn single_scale_issue(err: Error) -> onnx2esp::quant::scales::ScaleIssue {
    match err {
        Error::Scales { mut issues } if issues.len() == 1 => issues.remove(0),
        other => panic!("expected one scale issue, found {other:?}"),
    }
}

#[test]
fn a_scale_that_is_not_a_power_of_two_names_tensor_node_and_nearest_exponent() {
    let err = generate_from_bytes(&dense_model(0.125, 0.0625, 0.3, 0), "dense.onnx").unwrap_err();
    let text = err.to_string();
    let issue = single_scale_issue(err);
    assert_eq!(issue.tensor, "yq");
    assert_eq!(issue.node, "quant_out");
    match issue.problem {
        ScaleProblem::NotPowerOfTwo { nearest, .. } => assert_eq!(nearest, -2), // log2(0.3) = -1.74
        other => panic!("unexpected problem {other:?}"),
    }
    assert!(text.contains("nearest exponent is -2"), "{text}");
    assert!(text.contains("relative error 1.667e-1"), "{text}"); // |0.25 - 0.3| / 0.3
}

/// Under `--scales exact` every tensor that needs snapping is listed in one error, each with
/// the node that quantizes it, so that one run shows the whole cost.
#[test]
fn every_scale_that_is_not_a_power_of_two_is_listed_with_its_node() {
    let err = generate_from_bytes(&dense_model(0.1, 0.05, 0.3, 0), "dense.onnx").unwrap_err();
    let text = err.to_string();
    let Error::Scales { issues } = err else {
        panic!("expected Error::Scales, found {err:?}");
    };
    let named: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| (i.tensor.as_str(), i.node.as_str()))
        .collect();
    assert_eq!(
        named,
        [("xq", "quant_in"), ("w", "dequant_w"), ("yq", "quant_out")],
        "{text}"
    );
    assert!(text.starts_with("3 quantized tensor(s)"), "{text}");
    for line in [
        "tensor 'xq' (QuantizeLinear 'quant_in'): scale 1e-1 is not a power of two; the nearest exponent is -3",
        "tensor 'w' (DequantizeLinear 'dequant_w'): scale 5e-2 is not a power of two; the nearest exponent is -4",
        "tensor 'yq' (QuantizeLinear 'quant_out'): scale 3e-1 is not a power of two; the nearest exponent is -2",
    ] {
        assert!(text.contains(line), "{line}\nnot in\n{text}");
    }
}

#[test]
fn an_asymmetric_zero_point_under_exact_names_the_tensor() {
    let err = generate_from_bytes(&dense_model(0.125, 0.0625, 0.5, 3), "dense.onnx").unwrap_err();
    let text = err.to_string();
    let issue = single_scale_issue(err);
    assert_eq!(
        (issue.tensor.as_str(), issue.node.as_str()),
        ("yq", "quant_out")
    );
    assert_eq!(
        issue.problem,
        ScaleProblem::ZeroPoint {
            zero_point: 3,
            dtype: "int8".into()
        }
    );
    assert!(
        text.contains("tensor 'yq' (QuantizeLinear 'quant_out'): int8 zero point 3 is asymmetric"),
        "{text}"
    );
}

/// The same models generate under `--scales snap`.
#[test]
fn snap_rounds_what_exact_refuses() {
    let options = onnx2esp::Options {
        scales: onnx2esp::ScalePolicy::Snap(onnx2esp::SnapRule::Nearest),
        ..Default::default()
    };
    for model in [
        dense_model(0.1, 0.05, 0.3, 0),
        dense_model(0.125, 0.0625, 0.5, 3),
    ] {
        let code = onnx2esp::generate_with(&model, "dense.onnx", &options).unwrap();
        assert!(code.contains("pub const INPUT_EXPONENT: i32 ="), "{code}");
    }
}

#[test]
fn garbage_bytes_are_a_decode_error_naming_the_file() {
    let err = generate_from_bytes(b"\xff\xff\xff\xff not onnx", "broken.onnx").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("broken.onnx: not a valid ONNX protobuf"),
        "{err}"
    );
}

#[test]
fn an_unsupported_operator_names_the_node() {
    let bytes = model(
        vec![node("Softsign", "mystery", &["x"], &["y"])],
        vec![],
        &[1, 4],
        &[1, 4],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("node 'mystery' (Softsign)"), "{err}");
    assert!(err.contains("no built-in kernel"), "{err}");
}

#[test]
fn a_graph_out_of_topological_order_is_rejected() {
    let bytes = model(
        vec![
            node("Relu", "second", &["t"], &["y"]),
            node("Relu", "first", &["x"], &["t"]),
        ],
        vec![],
        &[1, 4],
        &[1, 4],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("node 'second'"), "{err}");
    assert!(err.contains("later node"), "{err}");
}

#[test]
fn an_unquantized_graph_output_is_explained() {
    let bytes = model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s"], &["xd"]),
            node("DequantizeLinear", "dq_w", &["w", "s"], &["wd"]),
            node("MatMul", "mm", &["xd", "wd"], &["y"]),
        ],
        vec![
            tensor_f32("s", &[], &[0.5]),
            tensor_i8("z", &[], &[0]),
            tensor_i8("w", &[4, 2], &[1, 2, 3, 4, 5, 6, 7, 8]),
        ],
        &[1, 4],
        &[1, 2],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("tensor 'y'"), "{err}");
    assert!(err.contains("QuantizeLinear"), "{err}");
}

#[test]
fn an_overflowing_accumulator_is_refused() {
    // 140000 weights of magnitude 127 (with inputs up to 128) exceed i32.
    let k = 140_000i64;
    let bytes = model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s"], &["xd"]),
            node("DequantizeLinear", "dq_w", &["w", "s"], &["wd"]),
            node("MatMul", "wide", &["xd", "wd"], &["acc"]),
            node("QuantizeLinear", "q_out", &["acc", "s", "z"], &["yq"]),
            node("DequantizeLinear", "dq_out", &["yq", "s"], &["y"]),
        ],
        vec![
            tensor_f32("s", &[], &[0.5]),
            tensor_i8("z", &[], &[0]),
            tensor_i8("w", &[k, 1], &vec![127; k as usize]),
        ],
        &[1, k],
        &[1, 1],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node 'wide'") && err.contains("overflows i32"),
        "{err}"
    );
}

#[test]
fn every_unsupported_node_is_listed_at_once() {
    let bytes = model(
        vec![
            node("Softsign", "first_gap", &["x"], &["t"]),
            node("Relu", "fine", &["t"], &["u"]),
            node("Celu", "second_gap", &["u"], &["y"]),
        ],
        vec![],
        &[1, 4],
        &[1, 4],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 node(s)"), "{err}");
    assert!(err.contains("node 'first_gap' (Softsign)"), "{err}");
    assert!(err.contains("node 'second_gap' (Celu)"), "{err}");
    assert!(!err.contains("node 'fine'"), "{err}");
}

#[test]
fn every_failing_node_is_reported_at_once_without_echoes() {
    // Two independent nodes fail (their input is never quantized); the third only depends on
    // a failed one and must not add an echo of that error.
    let bytes = model(
        vec![
            node("Relu", "first_failure", &["x"], &["a"]),
            node("Sigmoid", "second_failure", &["x"], &["b"]),
            node("Add", "downstream", &["a", "b"], &["y"]),
        ],
        vec![],
        &[1, 4],
        &[1, 4],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 nodes cannot be lowered"), "{err}");
    assert!(err.contains("node 'first_failure' (Relu)"), "{err}");
    assert!(err.contains("node 'second_failure' (Sigmoid)"), "{err}");
    assert!(!err.contains("downstream"), "{err}");
}
