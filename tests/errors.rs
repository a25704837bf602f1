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

/// `x [1,2,3,4] → Q → DQ → Resize(scales) → Q → DQ → y`, the Resize named `resize`.
fn resize_model(scales: &[f32], attributes: &[(&str, &str)]) -> Vec<u8> {
    let mut resize = node("Resize", "resize", &["xd", "", "scales"], &["r"]);
    resize
        .attribute
        .extend(
            attributes
                .iter()
                .map(|(name, value)| tract_onnx::pb::AttributeProto {
                    name: name.to_string(),
                    r#type: tract_onnx::pb::attribute_proto::AttributeType::String as i32,
                    s: value.as_bytes().to_vec(),
                    ..Default::default()
                }),
        );
    model(
        vec![
            node("QuantizeLinear", "quant_in", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dequant_in", &["xq", "s", "z"], &["xd"]),
            resize,
            node("QuantizeLinear", "quant_out", &["r", "s", "z"], &["rq"]),
            node("DequantizeLinear", "dequant_out", &["rq", "s", "z"], &["y"]),
        ],
        vec![
            tensor_f32("s", &[], &[0.03125]),
            tensor_i8("z", &[], &[0]),
            tensor_f32("scales", &[4], scales),
        ],
        &[1, 2, 3, 4],
        &[1, 2, 6, 8],
    )
}

/// Scales, string attributes, and the reason the error must give.
type ResizeCase<'a> = (&'a [f32], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn an_unsupported_resize_names_the_node_and_the_reason() {
    let cases: [ResizeCase; 4] = [
        (
            &[1.0, 1.0, 2.0, 2.0],
            &[("mode", "cubic")],
            "mode 'cubic' is not supported",
        ),
        (
            &[1.0, 2.0, 2.0, 2.0],
            &[("mode", "linear")],
            "N and C scales are [1.0, 2.0]",
        ),
        (
            &[1.0, 1.0, 2.0, 2.0],
            &[
                ("mode", "linear"),
                ("coordinate_transformation_mode", "tf_crop_and_resize"),
            ],
            "coordinate_transformation_mode 'tf_crop_and_resize' is not supported",
        ),
        (
            &[1.0, 1.0, 2.0, 2.0],
            &[
                ("mode", "linear"),
                ("coordinate_transformation_mode", "tf_half_pixel_for_nn"),
            ],
            "'tf_half_pixel_for_nn' is for nearest mode only",
        ),
    ];
    for (scales, attributes, reason) in cases {
        let err = generate_from_bytes(&resize_model(scales, attributes), "m.onnx")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("node 'resize'") && err.contains(reason),
            "{err}"
        );
    }
}

#[test]
fn a_linear_resize_generates_for_nchw() {
    let code = generate_from_bytes(
        &resize_model(&[1.0, 1.0, 2.0, 2.0], &[("mode", "linear")]),
        "m.onnx",
    )
    .unwrap();
    assert!(code.contains("exact in integers, shift 4"), "{code}");
}
