//! Bad input gets an error that names the node or tensor, never a panic.

mod common;

use common::*;
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

#[test]
fn a_scale_that_is_not_a_power_of_two_names_tensor_node_and_nearest_exponent() {
    let err = generate_from_bytes(&dense_model(0.125, 0.0625, 0.3, 0), "dense.onnx").unwrap_err();
    let text = err.to_string();
    match err {
        Error::NotPowerOfTwo {
            tensor,
            node,
            nearest,
            ..
        } => {
            assert_eq!(tensor, "yq");
            assert_eq!(node, "quant_out");
            assert_eq!(nearest, -2); // log2(0.3) = -1.74
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(text.contains("nearest exponent is -2"), "{text}");
}

#[test]
fn a_nonzero_zero_point_is_an_error_naming_the_tensor() {
    let err = generate_from_bytes(&dense_model(0.125, 0.0625, 0.5, 3), "dense.onnx").unwrap_err();
    assert!(
        matches!(&err, Error::ZeroPoint { tensor, node, zero_point: 3 } if tensor == "yq" && node == "quant_out"),
        "{err:?}"
    );
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

#[test]
fn a_dynamic_quantize_names_the_node_and_says_why() {
    let bytes = model(
        vec![
            node(
                "DynamicQuantizeLinear",
                "dyn_quant",
                &["x"],
                &["xq", "xs", "xz"],
            ),
            node("DequantizeLinear", "dq", &["xq", "xs", "xz"], &["y"]),
        ],
        vec![],
        &[1, 4],
        &[1, 4],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node 'dyn_quant' (DynamicQuantizeLinear)"),
        "{err}"
    );
    assert!(err.contains("at run time"), "{err}");
    assert!(err.contains("no static power-of-two exponent"), "{err}");
    assert!(err.contains("quantize the model statically"), "{err}");
}

#[test]
fn a_conv_integer_outside_the_quantizer_pattern_names_the_node() {
    // ConvInteger's int32 output goes straight to the graph output: no Cast and scale Mul.
    let bytes = model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
            node("ConvInteger", "conv_int", &["xq", "w"], &["y"]),
        ],
        vec![
            tensor_f32("s", &[], &[0.5]),
            tensor_i8("z", &[], &[0]),
            tensor_i8("w", &[1, 1, 1, 1], &[3]),
        ],
        &[1, 1, 2, 2],
        &[1, 1, 2, 2],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("node 'conv_int' (ConvInteger)"), "{err}");
    assert!(err.contains("Cast to float"), "{err}");
}
