//! What `torch.onnx.export(..., dynamo=True)` writes around a PT2E model's weights. With
//! `convert_pt2e(..., fold_quantize=False)` a per-channel weight stays float and the exporter
//! quantizes it in the graph as `QuantizeLinear(axis 0) -> Clip(int8 bounds) ->
//! DequantizeLinear`; the loader folds that to the int8 weight it stands for.

mod common;

use common::*;
use onnx2esp::generate_from_bytes;

/// `x [1,2] -> Q -> DQ -> MatMul(W [2,2] per channel) -> Q -> DQ -> y`, where `weight` are the
/// nodes and initializers that produce the int8 weight `wq`.
fn matmul_model(
    weight: Vec<onnx2esp::onnx::proto::NodeProto>,
    weight_init: Vec<onnx2esp::onnx::proto::TensorProto>,
) -> Vec<u8> {
    let mut dq_w = node("DequantizeLinear", "dq_w", &["wq", "sw", "zw"], &["wd"]);
    dq_w.attribute.push(int_attr("axis", 1));
    let mut nodes = vec![
        node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
        node("DequantizeLinear", "dq", &["xq", "s"], &["xd"]),
    ];
    nodes.extend(weight);
    nodes.extend([
        dq_w,
        node("MatMul", "matmul", &["xd", "wd"], &["t"]),
        node("QuantizeLinear", "q_out", &["t", "s", "z"], &["yq"]),
        node("DequantizeLinear", "dq_out", &["yq", "s"], &["y"]),
    ]);
    let mut initializers = vec![
        tensor_f32("s", &[], &[0.5]),
        tensor_i8("z", &[], &[0]),
        tensor_f32("sw", &[2], &[0.25, 0.125]),
        tensor_i8("zw", &[2], &[0, 0]),
    ];
    initializers.extend(weight_init);
    model(nodes, initializers, &[1, 2], &[1, 2])
}

/// The model with the int8 weight as an initializer.
fn int8_weight(values: &[i8]) -> Vec<u8> {
    matmul_model(vec![], vec![tensor_i8("wq", &[2, 2], values)])
}

/// The model with the float weight quantized in the graph and clipped to `[lo, hi]`; `bounds`
/// names Clip's inputs 1 and 2.
fn float_weight_clipped(values: &[f32], bounds: [&str; 2], lo: i8, hi: i8) -> Vec<u8> {
    let mut quantize = node("QuantizeLinear", "quantize_w", &["w", "sw", "zw"], &["wi"]);
    quantize.attribute.push(int_attr("axis", 1));
    let clip = node("Clip", "clip_w", &["wi", bounds[0], bounds[1]], &["wq"]);
    let inits = vec![
        tensor_f32("w", &[2, 2], values),
        tensor_i8("lo", &[], &[lo]),
        tensor_i8("hi", &[], &[hi]),
    ];
    matmul_model(vec![quantize, clip], inits)
}

/// The generated module without its header lines that identify the model bytes.
fn code_of(bytes: &[u8]) -> String {
    let code = generate_from_bytes(bytes, "m.onnx").unwrap();
    code.lines()
        .filter(|l| !l.contains("sha256") && !l.contains("SHA-256"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_quantized_and_clipped_float_weight_generates_as_its_int8_weight() {
    // Columns at 2^-2 and 2^-3: 0.25 -> 1, 0.25 -> 2, 0.75 -> 3, 0.5 -> 4.
    let folded = float_weight_clipped(&[0.25, 0.25, 0.75, 0.5], ["lo", "hi"], -128, 127);
    assert_eq!(code_of(&folded), code_of(&int8_weight(&[1, 2, 3, 4])));
}

#[test]
fn a_narrower_clip_of_a_weight_clamps_it() {
    let folded = float_weight_clipped(&[0.25, 0.25, 0.75, 0.5], ["lo", "hi"], -2, 2);
    assert_eq!(code_of(&folded), code_of(&int8_weight(&[1, 2, 2, 2])));
    // An omitted bound leaves that side open.
    let folded = float_weight_clipped(&[0.25, -0.25, -0.75, 0.5], ["", "hi"], 0, 2);
    assert_eq!(code_of(&folded), code_of(&int8_weight(&[1, -2, -3, 2])));
}

#[test]
fn a_weight_clip_with_a_bound_known_only_at_run_time_names_the_node() {
    // The upper bound is the graph input: not a constant.
    let bytes = float_weight_clipped(&[0.25, 0.25, 0.75, 0.5], ["lo", "x"], -128, 127);
    let err = generate_from_bytes(&bytes, "m.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'clip_w'")
            && err.contains("constant 'wi'")
            && err.contains("bound that is not a constant ('x')"),
        "{err}"
    );
}
