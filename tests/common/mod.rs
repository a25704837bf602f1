//! Small ONNX models built in memory, for tests of the loader and the lowering on inputs that
//! no producer would write (bad scales, broken graphs).

#![allow(dead_code)]

use onnx2esp::onnx::proto as pb;
use prost::Message;

pub fn tensor_f32(name: &str, dims: &[i64], values: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: pb::tensor_proto::DataType::Float as i32,
        float_data: values.to_vec(),
        ..Default::default()
    }
}

pub fn tensor_i8(name: &str, dims: &[i64], values: &[i8]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: pb::tensor_proto::DataType::Int8 as i32,
        raw_data: values.iter().map(|&v| v as u8).collect(),
        ..Default::default()
    }
}

pub fn tensor_i64(name: &str, dims: &[i64], values: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: pb::tensor_proto::DataType::Int64 as i32,
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

pub fn string_attr(name: &str, value: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::String as i32,
        s: value.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn int_attr(name: &str, value: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A model from nodes and initializers with one float input `x` and one output `y`.
pub fn model(
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    input_dims: &[i64],
    output_dims: &[i64],
) -> Vec<u8> {
    model_with_ports(
        nodes,
        initializers,
        &[("x", input_dims)],
        &[("y", output_dims)],
    )
}

/// A model with named float inputs and outputs.
pub fn model_with_ports(
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    inputs: &[(&str, &[i64])],
    outputs: &[(&str, &[i64])],
) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 7,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(pb::GraphProto {
            name: "test".into(),
            node: nodes,
            initializer: initializers,
            input: inputs.iter().map(|(n, d)| value_info(n, d)).collect(),
            output: outputs.iter().map(|(n, d)| value_info(n, d)).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// `x [1,4] → Q → DQ → Gemm(W [3,4], transB) → Q → DQ → y [1,3]`, with the given scales
/// for the input, the weights and the output, and zero point `zp` on the output.
pub fn dense_model(input_scale: f32, weight_scale: f32, output_scale: f32, zp: i8) -> Vec<u8> {
    let gemm = {
        let mut n = node("Gemm", "fc", &["xd", "wd", "b"], &["acc"]);
        n.attribute.push(int_attr("transB", 1));
        n
    };
    model(
        vec![
            node("QuantizeLinear", "quant_in", &["x", "sx", "z"], &["xq"]),
            node(
                "DequantizeLinear",
                "dequant_in",
                &["xq", "sx", "z"],
                &["xd"],
            ),
            node("DequantizeLinear", "dequant_w", &["w", "sw", "z"], &["wd"]),
            gemm,
            node("QuantizeLinear", "quant_out", &["acc", "sy", "zy"], &["yq"]),
            node(
                "DequantizeLinear",
                "dequant_out",
                &["yq", "sy", "zy"],
                &["y"],
            ),
        ],
        vec![
            tensor_f32("sx", &[], &[input_scale]),
            tensor_f32("sw", &[], &[weight_scale]),
            tensor_f32("sy", &[], &[output_scale]),
            tensor_i8("z", &[], &[0]),
            tensor_i8("zy", &[], &[zp]),
            tensor_i8("w", &[3, 4], &[1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12]),
            tensor_f32("b", &[3], &[0.5, -0.25, 0.125]),
        ],
        &[1, 4],
        &[1, 3],
    )
}

/// Compiles `lib.rs` of `dir`, a `#![no_std]`, `#![forbid(unsafe_code)]` crate that includes
/// `model.rs` of the same directory, as a library with warnings denied (the test's own rustc,
/// `$RUSTC`, else `rustc`).
pub fn compile_module(dir: &std::path::Path) -> std::process::Output {
    std::fs::write(
        dir.join("lib.rs"),
        "#![no_std]\n#![forbid(unsafe_code)]\npub mod model {\n    include!(\"model.rs\");\n}\n",
    )
    .unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    std::process::Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "-D",
            "warnings",
            "--out-dir",
        ])
        .arg(dir)
        .arg(dir.join("lib.rs"))
        .output()
        .unwrap()
}
