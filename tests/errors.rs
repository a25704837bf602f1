//! Bad input gets an error that names the node or tensor, never a panic.

mod common;

use common::*;
use onnx2esp::rewrite::scales::ScaleProblem;
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
fn single_scale_issue(err: Error) -> onnx2esp::rewrite::scales::ScaleIssue {
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
fn an_accumulator_beyond_i32_is_widened_to_i64() {
    // 140000 weights of magnitude 127 (with inputs up to 128) exceed i32, not i64.
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
    let code = generate_from_bytes(&bytes, "m.onnx").unwrap();
    assert!(
        code.contains("let mut acc: [i64; 1] = [i64::from(*b0)];"),
        "{code}"
    );
    assert!(code.contains("requantize_i64(*acc, 1)"), "{code}");
    // The header's layer table gives the bound: 128 * 127 * 140000.
    assert!(code.contains(&format!("{} (i64)", 128 * 127 * k)), "{code}");
}

#[test]
fn an_overflowing_accumulator_names_the_node_the_bound_and_the_limit() {
    // A 4096 x 4096 average pool sums 2^24 int8 values: up to 2^31, one past i32::MAX, and
    // the pool kernel accumulates in i32 only.
    let bytes = model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s"], &["xd"]),
            node("GlobalAveragePool", "huge_pool", &["xd"], &["mean"]),
            node("QuantizeLinear", "q_out", &["mean", "s", "z"], &["yq"]),
            node("DequantizeLinear", "dq_out", &["yq", "s"], &["y"]),
        ],
        vec![tensor_f32("s", &[], &[0.5]), tensor_i8("z", &[], &[0])],
        &[1, 1, 4096, 4096],
        &[1, 1, 1, 1],
    );
    // A 16 MiB input: over the default RAM budget, which would refuse it first.
    let options = onnx2esp::Options {
        budget: onnx2esp::Budget {
            max_ram: 1 << 25,
            max_flash: usize::MAX,
        },
        ..Default::default()
    };
    let err = onnx2esp::generate_with(&bytes, "m.onnx", &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node 'huge_pool'")
            && err.contains("|acc| = 2147483648")
            && err.contains("i32 limit 2147483647"),
        "{err}"
    );
}

/// x [1, 2] -> Q/DQ -> op(x, DequantizeLinear(w [2, 2], per-channel scale along `axis`)).
fn per_channel_model(op: &str, axis: i64) -> Vec<u8> {
    let mut dq_w = node("DequantizeLinear", "dq_w", &["w", "sw", "zw"], &["wd"]);
    dq_w.attribute.push(int_attr("axis", axis));
    model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s"], &["xd"]),
            dq_w,
            node(op, "consumer", &["xd", "wd"], &["t"]),
            node("QuantizeLinear", "q_out", &["t", "s", "z"], &["yq"]),
            node("DequantizeLinear", "dq_out", &["yq", "s"], &["y"]),
        ],
        vec![
            tensor_f32("s", &[], &[0.5]),
            tensor_i8("z", &[], &[0]),
            tensor_f32("sw", &[2], &[0.25, 0.125]),
            tensor_i8("zw", &[2], &[0, 0]),
            tensor_i8("w", &[2, 2], &[1, 2, 3, 4]),
        ],
        &[1, 2],
        &[1, 2],
    )
}

#[test]
fn per_channel_weights_generate_per_channel_shifts() {
    // MatMul's output features are weight axis 1, at 2^-2 and 2^-3; input and output at
    // 2^-1, so the shifts are -1 - (-1 - 2) = 2 and 3.
    let code = generate_from_bytes(&per_channel_model("MatMul", 1), "m.onnx").unwrap();
    assert!(
        code.contains("static MATMUL_0_SHIFTS: Align16<[i8; 2]> = Align16([2, 3]);"),
        "{code}"
    );
}

#[test]
fn per_channel_weights_along_the_input_axis_name_node_and_tensor() {
    let err = generate_from_bytes(&per_channel_model("MatMul", 0), "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'consumer'") && err.contains("weight 'w'") && err.contains("axis 0"),
        "{err}"
    );
}

#[test]
fn a_per_channel_constant_elsewhere_names_node_and_tensor() {
    let err = generate_from_bytes(&per_channel_model("Add", 1), "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'consumer'") && err.contains("per-channel quantized constant 'w'"),
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

fn tensor_i16(name: &str, values: &[i16]) -> onnx2esp::onnx::proto::TensorProto {
    onnx2esp::onnx::proto::TensorProto {
        name: name.into(),
        data_type: onnx2esp::onnx::proto::tensor_proto::DataType::Int16 as i32,
        int32_data: values.iter().map(|&v| v as i32).collect(),
        ..Default::default()
    }
}

#[test]
fn an_int16_tensor_in_an_op_without_int16_support_names_node_and_tensor() {
    // Linear Resize has no int16 kernel (as in ESP-DL).
    let mut resize = node("Resize", "resize16", &["xd", "", "scales"], &["p"]);
    resize
        .attribute
        .push(onnx2esp::onnx::proto::AttributeProto {
            name: "mode".into(),
            r#type: onnx2esp::onnx::proto::attribute_proto::AttributeType::String as i32,
            s: b"linear".to_vec(),
            ..Default::default()
        });
    let bytes = model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z16"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s", "z16"], &["xd"]),
            resize,
            node("QuantizeLinear", "q_out", &["p", "s", "z16"], &["yq"]),
            node("DequantizeLinear", "dq_out", &["yq", "s", "z16"], &["y"]),
        ],
        vec![
            tensor_f32("s", &[], &[0.5]),
            tensor_i16("z16", &[0]),
            tensor_f32("scales", &[4], &[1.0, 1.0, 2.0, 2.0]),
        ],
        &[1, 1, 4, 4],
        &[1, 1, 8, 8],
    );
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node 'resize16'") && err.contains("tensor 'x' is int16"),
        "{err}"
    );
}

/// `x (int16) → op → y (int16)` with the op named `op16`; the error of generating it.
fn int16_error(
    op: &str,
    attributes: Vec<onnx2esp::onnx::proto::AttributeProto>,
    shape: &[i64],
    out: &[i64],
) -> String {
    let mut n = node(op, "op16", &["xd"], &["p"]);
    n.attribute.extend(attributes);
    let bytes = model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z16"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s", "z16"], &["xd"]),
            n,
            node("QuantizeLinear", "q_out", &["p", "s_out", "z16"], &["yq"]),
            node(
                "DequantizeLinear",
                "dq_out",
                &["yq", "s_out", "z16"],
                &["y"],
            ),
        ],
        vec![
            tensor_f32("s", &[], &[2f32.powi(-10)]),
            tensor_f32("s_out", &[], &[2f32.powi(-4)]),
            tensor_i16("z16", &[0]),
        ],
        shape,
        out,
    );
    generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string()
}

#[test]
fn int16_limits_are_errors_naming_the_node() {
    use onnx2esp::onnx::proto::{attribute_proto::AttributeType, AttributeProto};
    // A mean of 256 values at shift 6: f32 might round it otherwise than the exact quotient.
    let err = int16_error("GlobalAveragePool", vec![], &[1, 1, 16, 16], &[1, 1, 1, 1]);
    assert!(
        err.contains("node 'op16'") && err.contains("int16 average of 256 elements"),
        "{err}"
    );
    // The squares of int16 values round in ONNX Runtime's f32: at most 256 of them.
    let keepdims = AttributeProto {
        name: "keepdims".into(),
        r#type: AttributeType::Int as i32,
        i: 0,
        ..Default::default()
    };
    let err = int16_error("ReduceSumSquare", vec![keepdims.clone()], &[1, 300], &[]);
    assert!(
        err.contains("node 'op16'")
            && err.contains("ReduceSumSquare of 300 int16 elements; at most 256"),
        "{err}"
    );
    // Three int16 factors round in f32 twice.
    let err = int16_error("ReduceProd", vec![keepdims.clone()], &[1, 3], &[]);
    assert!(
        err.contains("node 'op16'") && err.contains("ReduceProd of 3 int16 elements; at most 2"),
        "{err}"
    );
    // An int16 sum beyond 2^24 rounds in f32, the log of it too.
    let err = int16_error("ReduceLogSum", vec![keepdims], &[1, 513], &[]);
    assert!(
        err.contains("node 'op16'")
            && err.contains("ReduceLogSum of 513 int16 elements; at most 512"),
        "{err}"
    );
    // LpNormalization p = 2 on int16.
    let err = int16_error("LpNormalization", vec![], &[1, 4], &[1, 4]);
    assert!(
        err.contains("node 'op16'") && err.contains("p = 1"),
        "{err}"
    );
}

/// `x [1,2,3,4] → Q → DQ → Resize(scales) → Q → DQ → y`, the Resize named `resize`.
fn resize_model(scales: &[f32], attributes: &[(&str, &str)]) -> Vec<u8> {
    let mut resize = node("Resize", "resize", &["xd", "", "scales"], &["r"]);
    resize
        .attribute
        .extend(
            attributes
                .iter()
                .map(|(name, value)| onnx2esp::onnx::proto::AttributeProto {
                    name: name.to_string(),
                    r#type: onnx2esp::onnx::proto::attribute_proto::AttributeType::String as i32,
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

/// `x → Q → DQ → op → Q → DQ → y` at scale 2^-5: `op` reads `xd` (and whatever else of
/// `initializers` it names) and writes `r`.
fn single_op_model(
    op: onnx2esp::onnx::proto::NodeProto,
    mut initializers: Vec<onnx2esp::onnx::proto::TensorProto>,
    input_dims: &[i64],
) -> Vec<u8> {
    initializers.extend([tensor_f32("s", &[], &[0.03125]), tensor_i8("z", &[], &[0])]);
    model(
        vec![
            node("QuantizeLinear", "quant_in", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dequant_in", &["xq", "s", "z"], &["xd"]),
            op,
            node("QuantizeLinear", "quant_out", &["r", "s", "z"], &["rq"]),
            node("DequantizeLinear", "dequant_out", &["rq", "s", "z"], &["y"]),
        ],
        initializers,
        input_dims,
        input_dims,
    )
}

/// Each model fails to generate with an error that names node `name` and gives the reason.
fn assert_each_refused(name: &str, cases: &[(Vec<u8>, &str)]) {
    for (model, reason) in cases {
        let err = generate_from_bytes(model, "m.onnx")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("node '{name}'")) && err.contains(reason),
            "{err}"
        );
    }
}

/// `ScatterND(x [2,3,4], indices, float updates)` named `scatter`.
fn scatter_model(
    indices_dims: &[i64],
    indices: &[i64],
    updates_dims: &[i64],
    attributes: Vec<onnx2esp::onnx::proto::AttributeProto>,
) -> Vec<u8> {
    let mut scatter = node(
        "ScatterND",
        "scatter",
        &["xd", "indices", "updates"],
        &["r"],
    );
    scatter.attribute = attributes;
    let count = updates_dims.iter().product::<i64>() as usize;
    single_op_model(
        scatter,
        vec![
            tensor_i64("indices", indices_dims, indices),
            tensor_f32("updates", updates_dims, &vec![0.25; count]),
        ],
        &[2, 3, 4],
    )
}

#[test]
fn a_scatter_nd_with_float_constant_updates_generates() {
    let code = generate_from_bytes(
        &scatter_model(&[2, 2], &[0, 1, 1, -1], &[2, 4], vec![]),
        "m.onnx",
    )
    .unwrap();
    assert!(
        code.contains("8 updated elements, data shift 0, constant updates"),
        "{code}"
    );
}

#[test]
fn a_scatter_nd_reduction_takes_repeated_indices() {
    for reduction in ["add", "mul", "max", "min"] {
        let code = generate_from_bytes(
            &scatter_model(
                &[2, 2],
                &[0, 1, 0, 1],
                &[2, 4],
                vec![string_attr("reduction", reduction)],
            ),
            "m.onnx",
        )
        .unwrap();
        assert!(
            code.contains(&format!("reduction {reduction}, 8 updates of 4 elements")),
            "{code}"
        );
    }
}

#[test]
fn an_unsupported_scatter_nd_names_the_node_and_the_reason() {
    let cases = [
        (
            scatter_model(
                &[1, 1],
                &[1],
                &[1, 3, 4],
                vec![string_attr("reduction", "sum")],
            ),
            "reduction 'sum' is not valid (none, add, mul, max or min)",
        ),
        (
            scatter_model(
                &[3, 2],
                &[0, 1, 0, 1, 0, 1],
                &[3, 4],
                vec![string_attr("reduction", "mul")],
            ),
            "reduction 'mul' with 3 updates of one element",
        ),
        (
            scatter_model(&[2, 2], &[0, 1, 0, 1], &[2, 4], vec![]),
            "index [0, 1] is repeated",
        ),
        (
            scatter_model(&[1, 2], &[0, 3], &[1, 4], vec![]),
            "index 3 is out of range for axis 1 of size 3",
        ),
        (
            scatter_model(&[1, 2], &[0, 1], &[1, 3], vec![]),
            "updates have shape [1, 3], expected [1, 4]",
        ),
        (
            scatter_model(&[1, 4], &[0, 0, 0, 0], &[1], vec![]),
            "the last axis must name 1..=3 data axes",
        ),
    ];
    assert_each_refused("scatter", &cases);
}

/// `ReverseSequence(x [4,3,5], sequence_lens)` named `reverse`.
fn reverse_sequence_model(lens: &[i64], batch_axis: i64, time_axis: i64) -> Vec<u8> {
    let mut reverse = node("ReverseSequence", "reverse", &["xd", "lens"], &["r"]);
    reverse.attribute = vec![
        int_attr("batch_axis", batch_axis),
        int_attr("time_axis", time_axis),
    ];
    single_op_model(
        reverse,
        vec![tensor_i64("lens", &[lens.len() as i64], lens)],
        &[4, 3, 5],
    )
}

#[test]
fn an_unsupported_reverse_sequence_names_the_node_and_the_reason() {
    let cases = [
        (
            reverse_sequence_model(&[4, 5, 1], 1, 0),
            "sequence length 5 is outside 0..=4",
        ),
        (
            reverse_sequence_model(&[4, 4, 1], 1, 1),
            "batch_axis 1 and time_axis 1 must be 0 and 1",
        ),
        (
            reverse_sequence_model(&[4, 4], 1, 0),
            "sequence_lens has 2 values for a batch of 3",
        ),
    ];
    assert_each_refused("reverse", &cases);
}

#[test]
fn an_unsupported_lp_normalization_names_the_node_and_the_reason() {
    let lp_model = |p: i64, dims: &[i64]| {
        let mut lp = node("LpNormalization", "lp", &["xd"], &["r"]);
        lp.attribute = vec![int_attr("p", p), int_attr("axis", -1)];
        single_op_model(lp, vec![], dims)
    };
    let cases = [
        (lp_model(3, &[1, 8]), "p 3 is not 1 or 2"),
        (
            lp_model(2, &[1, 2048]),
            "2048 elements along axis 1; at most 1024 for p = 2",
        ),
    ];
    assert_each_refused("lp", &cases);
}

/// `x [1,2,2] → op → Q → DQ → Gemm → Q → DQ → y`, the op on the float input given by `first`.
fn model_with_float_input_op(
    first: onnx2esp::onnx::proto::NodeProto,
    extra: Vec<onnx2esp::onnx::proto::TensorProto>,
) -> Vec<u8> {
    let gemm = {
        let mut n = node("Gemm", "fc", &["xd", "wd"], &["acc"]);
        n.attribute.push(int_attr("transB", 1));
        n
    };
    let mut initializers = vec![
        tensor_f32("s", &[], &[0.125]),
        tensor_i8("z", &[], &[0]),
        tensor_i8("w", &[1, 4], &[1, -2, 3, -4]),
    ];
    initializers.extend(extra);
    model(
        vec![
            first,
            node("QuantizeLinear", "quant_in", &["f", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dequant_in", &["xq", "s", "z"], &["xd"]),
            node("DequantizeLinear", "dequant_w", &["w", "s", "z"], &["wd"]),
            gemm,
            node("QuantizeLinear", "quant_out", &["acc", "s", "z"], &["yq"]),
            node("DequantizeLinear", "dequant_out", &["yq", "s", "z"], &["y"]),
        ],
        initializers,
        &[1, 2, 2],
        &[1, 1],
    )
}

/// A Flatten before the first QuantizeLinear (ONNX Runtime's `quantize_static` leaves it on
/// the float input) moves inside the quantized core; any other float op there is refused,
/// naming the node and what to do.
#[test]
fn a_float_input_flatten_moves_inside_and_other_float_ops_are_refused() {
    let flatten = node("Flatten", "flatten_in", &["x"], &["f"]);
    let code = generate_from_bytes(&model_with_float_input_op(flatten, vec![]), "m.onnx").unwrap();
    assert!(
        code.contains("pub const INPUT_SHAPE: [usize; 3] = [1, 2, 2];"),
        "{code}"
    );

    let scale = node("Mul", "normalize", &["x", "half"], &["f"]);
    let err = generate_from_bytes(
        &model_with_float_input_op(scale, vec![tensor_f32("half", &[], &[0.5])]),
        "m.onnx",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("node 'normalize' (Mul)"), "{err}");
    assert!(err.contains("before `predict`"), "{err}");
}

fn corpus_model(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/corpus/{name}.onnx",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn an_output_over_the_ram_budget_names_the_node_and_the_flag() {
    let conv = corpus_model("hostile_conv_1000x1000");
    let message = generate_from_bytes(&conv, "conv.onnx")
        .unwrap_err()
        .to_string();
    assert!(message.contains("tensor 'x': the graph input"), "{message}");
    assert!(
        message.contains("over the RAM budget of 327680"),
        "{message}"
    );
    assert!(message.contains("--max-ram"), "{message}");
    // An intermediate output over the budget names its node.
    let digits = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/models/digits.onnx"
    ))
    .unwrap();
    let tight = onnx2esp::Options {
        budget: onnx2esp::Budget {
            max_ram: 200,
            max_flash: usize::MAX,
        },
        ..Default::default()
    };
    let message = onnx2esp::generate_with(&digits, "digits.onnx", &tight)
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("node '"), "{message}");
    assert!(message.contains("over the RAM budget of 200"), "{message}");
    // Beyond any budget, the element limit still refuses before anything is built.
    let options = onnx2esp::Options {
        budget: onnx2esp::Budget {
            max_ram: usize::MAX,
            max_flash: usize::MAX,
        },
        ..Default::default()
    };
    let pad = corpus_model("hostile_pad_100000");
    let message = onnx2esp::generate_with(&pad, "pad.onnx", &options)
        .unwrap_err()
        .to_string();
    assert!(message.contains("node 'pad' (Pad)"), "{message}");
    assert!(message.contains("more than 16777216 elements"), "{message}");
}

#[test]
fn a_module_over_max_code_is_refused_with_the_flag() {
    let model = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/models/digits.onnx"
    ))
    .unwrap();
    let options = onnx2esp::Options {
        max_code: 2000,
        ..Default::default()
    };
    let message = onnx2esp::generate_with(&model, "digits.onnx", &options)
        .unwrap_err()
        .to_string();
    assert!(message.contains("over the limit of 2000"), "{message}");
    assert!(message.starts_with("node '"), "{message}");
    assert!(message.contains("--max-code"), "{message}");
    assert!(onnx2esp::generate_with(&model, "digits.onnx", &Default::default()).is_ok());
}

/// x [3, 1, 2] -> Q/DQ -> GRU (hidden 2, int8 W and R, `extra` inputs after R) -> Y -> Q/DQ.
fn gru_model(
    extra_inputs: &[&str],
    extra: Vec<onnx2esp::onnx::proto::TensorProto>,
    attributes: Vec<onnx2esp::onnx::proto::AttributeProto>,
) -> Vec<u8> {
    let mut inputs = vec!["xd", "wd", "rd"];
    inputs.extend_from_slice(extra_inputs);
    let mut gru = node("GRU", "the_gru", &inputs, &["h"]);
    gru.attribute.push(int_attr("hidden_size", 2));
    gru.attribute.extend(attributes);
    let mut initializers = vec![
        tensor_f32("s", &[], &[0.125]),
        tensor_i8("z", &[], &[0]),
        tensor_i8("w", &[1, 6, 2], &[1; 12]),
        tensor_i8("r", &[1, 6, 2], &[2; 12]),
    ];
    initializers.extend(extra);
    model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s"], &["xd"]),
            node("DequantizeLinear", "dq_w", &["w", "s"], &["wd"]),
            node("DequantizeLinear", "dq_r", &["r", "s"], &["rd"]),
            gru,
            node("QuantizeLinear", "q_out", &["h", "s", "z"], &["yq"]),
            node("DequantizeLinear", "dq_out", &["yq", "s"], &["y"]),
        ],
        initializers,
        &[3, 1, 2],
        &[3, 1, 1, 2],
    )
}

#[test]
fn a_plain_gru_generates_with_its_state() {
    let code = generate_from_bytes(&gru_model(&[], vec![], vec![]), "m.onnx").unwrap();
    assert!(code.contains("pub fn reset_state(&mut self)"), "{code}");
    // The hidden state (1 x 1 x 2), then the next hidden values and r ⊙ h (2 each), as i32.
    assert!(
        code.contains("pub const STATE_BYTES: usize = 24;"),
        "{code}"
    );
}

#[test]
fn what_a_recurrent_layer_cannot_do_is_an_error_naming_the_node() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            gru_model(&[], vec![], vec![string_attr("direction", "sideways")]),
            "direction 'sideways'",
        ),
        (
            gru_model(&["", "lens"], vec![tensor_i64("lens", &[1], &[2])], vec![]),
            "sequence_lens",
        ),
        (
            gru_model(&["", "", "xd"], vec![], vec![]),
            "must be a constant",
        ),
        (
            {
                let mut a = string_attr("activations", "");
                a.strings = vec![b"Relu".to_vec(), b"Tanh".to_vec()];
                a.r#type = onnx2esp::onnx::proto::attribute_proto::AttributeType::Strings as i32;
                gru_model(&[], vec![], vec![a])
            },
            "only the defaults",
        ),
        (
            gru_model(
                &["b"],
                vec![tensor_f32("b", &[1, 12], &[300.0; 12])],
                vec![],
            ),
            "beyond ±128",
        ),
    ];
    for (bytes, expected) in cases {
        let err = generate_from_bytes(&bytes, "m.onnx")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the_gru") && err.contains(expected),
            "{expected}: {err}"
        );
    }
}
