//! The pass on small graphs built by hand: the values it writes, against hand computations.

use super::*;

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> Node {
    Node {
        name: name.into(),
        op_type: op.into(),
        domain: String::new(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        attributes: BTreeMap::new(),
    }
}

fn constant(dtype: DType, dims: &[usize], values: &[f64]) -> Constant {
    Constant {
        dtype,
        dims: dims.to_vec(),
        values: values.to_vec(),
    }
}

fn scalar(dtype: DType, value: f64) -> Constant {
    Constant::scalar(dtype, value)
}

/// `x → Q → DQ → Conv(DQ(w), DQ(b)) → Q → DQ → y`, with the given input, weight and bias
/// parameters; the output is at 2^-3 with zero point 0.
fn conv_graph(
    input: (f64, Constant),
    weights: (Constant, f64, Constant),
    bias: Option<(Constant, f64)>,
) -> Graph {
    let (sx, zx) = input;
    let (w, sw, zw) = weights;
    let mut constants = BTreeMap::from([
        ("sx".to_string(), scalar(DType::F32, sx)),
        ("zx".to_string(), zx),
        ("w".to_string(), w),
        ("sw".to_string(), scalar(DType::F32, sw)),
        ("zw".to_string(), zw),
        ("sy".to_string(), scalar(DType::F32, 0.125)),
        ("zy".to_string(), scalar(DType::I8, 0.0)),
    ]);
    let mut conv_inputs = vec!["xd", "wd"];
    let mut nodes = vec![
        node("QuantizeLinear", "quant_x", &["x", "sx", "zx"], &["xq"]),
        node(
            "DequantizeLinear",
            "dequant_x",
            &["xq", "sx", "zx"],
            &["xd"],
        ),
        node("DequantizeLinear", "dequant_w", &["w", "sw", "zw"], &["wd"]),
    ];
    if let Some((b, sb)) = bias {
        constants.insert("b".into(), b);
        constants.insert("sb".into(), scalar(DType::F32, sb));
        constants.insert("zb".into(), scalar(DType::I32, 0.0));
        nodes.push(node(
            "DequantizeLinear",
            "dequant_b",
            &["b", "sb", "zb"],
            &["bd"],
        ));
        conv_inputs.push("bd");
    }
    nodes.extend([
        node("Conv", "conv", &conv_inputs, &["acc"]),
        node("QuantizeLinear", "quant_y", &["acc", "sy", "zy"], &["yq"]),
        node("DequantizeLinear", "dequant_y", &["yq", "sy", "zy"], &["y"]),
    ]);
    Graph {
        file_name: "test.onnx".into(),
        sha256: String::new(),
        opset: 13,
        producer: String::new(),
        inputs: vec![crate::onnx::ValueInfo {
            name: "x".into(),
            dtype: DType::F32,
            shape: Some(vec![1, 1, 2, 2]),
        }],
        outputs: vec![crate::onnx::ValueInfo {
            name: "y".into(),
            dtype: DType::F32,
            shape: None,
        }],
        constants,
        nodes,
        declared_shapes: BTreeMap::new(),
    }
}

const SNAP: ScalePolicy = ScalePolicy::Snap(SnapRule::Nearest);

fn entry<'r>(report: &'r ScaleReport, tensor: &str) -> &'r TensorReport {
    report
        .tensors
        .iter()
        .find(|t| t.tensor == tensor)
        .unwrap_or_else(|| panic!("no report for {tensor}: {report:?}"))
}

/// The constant a node's input reads in the rewritten graph.
fn input_of<'g>(graph: &'g Graph, node: &str, index: usize) -> &'g Constant {
    let node = graph.nodes.iter().find(|n| n.name == node).unwrap();
    &graph.constants[&node.inputs[index]]
}

#[test]
fn weights_are_requantized_from_their_real_values() {
    // w = q * 0.1 snaps to 2^-3: q' = round_half_even(q * 0.1 / 0.125) = round(0.8 q).
    let w = constant(DType::I8, &[1, 1, 2, 2], &[10.0, -7.0, 127.0, 5.0]);
    let graph = conv_graph(
        (0.125, scalar(DType::I8, 0.0)),
        (w, 0.1, scalar(DType::I8, 0.0)),
        None,
    );
    let (rewritten, report) = rewrite_scales(&graph, SNAP).unwrap();
    // 8, -5.6 → -6, 101.6 → 102, 4 (half to even: 0.8 * 5 = 4 exactly).
    assert_eq!(
        input_of(&rewritten, "dequant_w", 0).values,
        [8.0, -6.0, 102.0, 4.0]
    );
    assert_eq!(input_of(&rewritten, "dequant_w", 1).values, [0.125]);
    let w = entry(&report, "w");
    assert_eq!(w.exponents, [-3]);
    assert_eq!(w.changes, [Change::Snapped]);
    assert_eq!(w.saturated, Some(0.0));
    assert!((w.relative_errors[0] - 0.25).abs() < 1e-6, "{w:?}");
    // The input was exact and is untouched.
    assert!(entry(&report, "xq").changes.is_empty());
    assert_eq!(rewritten.nodes[0].inputs, ["x", "sx", "zx"]);
}

#[test]
fn saturated_weights_are_counted() {
    // 0.7 snaps to 2^-1: q' = round(1.4 q); 127 and -128 leave int8, 50 and 10 do not.
    let w = constant(DType::I8, &[1, 1, 2, 2], &[127.0, -128.0, 50.0, 10.0]);
    let graph = conv_graph(
        (0.125, scalar(DType::I8, 0.0)),
        (w, 0.7, scalar(DType::I8, 0.0)),
        None,
    );
    let (rewritten, report) = rewrite_scales(&graph, SNAP).unwrap();
    assert_eq!(
        input_of(&rewritten, "dequant_w", 0).values,
        [127.0, -128.0, 70.0, 14.0]
    );
    assert_eq!(entry(&report, "w").saturated, Some(0.5));
    // Ceil never makes the step finer, so nothing saturates: 2^0, q' = round(0.7 q).
    let (rewritten, report) = rewrite_scales(&graph, ScalePolicy::Snap(SnapRule::Ceil)).unwrap();
    assert_eq!(
        input_of(&rewritten, "dequant_w", 0).values,
        [89.0, -90.0, 35.0, 7.0]
    );
    assert_eq!(entry(&report, "w").saturated, Some(0.0));
}

#[test]
fn uint8_with_zero_point_128_becomes_int8_exactly_under_exact() {
    let w = constant(DType::U8, &[1, 1, 2, 2], &[128.0, 0.0, 255.0, 130.0]);
    let graph = conv_graph(
        (0.0625, scalar(DType::U8, 128.0)),
        (w, 0.25, scalar(DType::U8, 128.0)),
        None,
    );
    let (rewritten, report) = rewrite_scales(&graph, ScalePolicy::Exact).unwrap();
    let weights = input_of(&rewritten, "dequant_w", 0);
    assert_eq!(
        (weights.dtype, weights.values.as_slice()),
        (DType::I8, &[0.0, -128.0, 127.0, 2.0][..])
    );
    for node in ["quant_x", "dequant_x", "dequant_w"] {
        let zero_point = input_of(&rewritten, node, 2);
        assert_eq!(
            (zero_point.dtype, zero_point.values.as_slice()),
            (DType::I8, &[0.0][..]),
            "{node}"
        );
    }
    assert_eq!(input_of(&rewritten, "quant_x", 1).values, [0.0625]);
    // The Q and its DQ read the same new parameters: one decision per tensor.
    assert_eq!(
        rewritten.nodes[0].inputs[1..],
        rewritten.nodes[1].inputs[1..]
    );
    let x = entry(&report, "xq");
    assert_eq!(
        (x.changes.as_slice(), x.exponents.as_slice()),
        (&[Change::Uint8ToInt8][..], &[-4][..])
    );
    assert_eq!(x.dtype, "uint8");
    assert_eq!(x.saturated, None);
    // The old uint8 zero points are gone; the graph reads only int8.
    assert!(!rewritten.constants.contains_key("zx") && !rewritten.constants.contains_key("zw"));
}

#[test]
fn biases_are_requantized_at_the_snapped_input_and_weight_exponents() {
    // ex: 0.1 → 2^-3, ew: 0.05 → 2^-4, so the bias goes to 2^-7. Its real values are
    // q * 0.005: 1000 → 5.0 → 640; -37 → -0.185 → -23.68 → -24.
    let graph = conv_graph(
        (0.1, scalar(DType::I8, 0.0)),
        (
            constant(DType::I8, &[2, 1, 1, 1], &[1.0, 2.0]),
            0.05,
            scalar(DType::I8, 0.0),
        ),
        Some((constant(DType::I32, &[2], &[1000.0, -37.0]), 0.005)),
    );
    let (rewritten, report) = rewrite_scales(&graph, SNAP).unwrap();
    let bias = input_of(&rewritten, "dequant_b", 0);
    assert_eq!(
        (bias.dtype, bias.values.as_slice()),
        (DType::I32, &[640.0, -24.0][..])
    );
    assert_eq!(input_of(&rewritten, "dequant_b", 1).values, [2f64.powi(-7)]);
    let b = entry(&report, "b");
    assert_eq!(b.exponents, [-7]);
    assert_eq!(b.role, Role::Bias);
    assert_eq!(b.changes, [Change::Snapped]);
    // The rewritten graph lowers: every scale is now exact.
    let no_templates = crate::kernel::UserTemplates::default();
    crate::lower::lower(&rewritten, &no_templates, crate::quant::Rounding::HalfEven).unwrap();
}

#[test]
fn an_asymmetric_activation_becomes_symmetric_over_its_range_and_keeps_its_clip() {
    // uint8, zero point 0, scale 1/255: the real range [0, 1] (a ReLU folded into the grid)
    // needs 127 * 2^e >= 1, so e = -6; the output keeps the clip at 0 as an explicit Clip.
    let mut graph = conv_graph(
        (0.125, scalar(DType::I8, 0.0)),
        (
            constant(DType::I8, &[1, 1, 1, 1], &[3.0]),
            0.25,
            scalar(DType::I8, 0.0),
        ),
        None,
    );
    graph
        .constants
        .insert("sy".into(), scalar(DType::F32, 1.0 / 255.0));
    graph.constants.insert("zy".into(), scalar(DType::U8, 0.0));
    assert!(matches!(
        rewrite_scales(&graph, ScalePolicy::Exact),
        Err(Error::Scales { issues }) if issues.iter().any(|i| i.tensor == "yq"
            && matches!(i.problem, ScaleProblem::ZeroPoint { zero_point: 0, .. }))
    ));
    let (rewritten, report) = rewrite_scales(&graph, SNAP).unwrap();
    let y = entry(&report, "yq");
    assert_eq!(y.exponents, [-6]);
    assert_eq!(y.changes, [Change::AsymmetricToSymmetric]);
    assert_eq!(y.clip, Some((0.0, 1.0)));
    let clip = rewritten
        .nodes
        .iter()
        .position(|n| n.op_type == "Clip")
        .unwrap();
    let quantize = rewritten
        .nodes
        .iter()
        .position(|n| n.name == "quant_y")
        .unwrap();
    assert_eq!(clip + 1, quantize);
    assert_eq!(rewritten.nodes[clip].inputs[0], "acc");
    assert_eq!(
        rewritten.nodes[quantize].inputs[0],
        rewritten.nodes[clip].outputs[0]
    );
    let bound = |i: usize| rewritten.constants[&rewritten.nodes[clip].inputs[i]].values[0];
    assert_eq!((bound(1), bound(2)), (0.0, 1.0));
}

#[test]
fn exact_reports_every_tensor_it_refuses() {
    let graph = conv_graph(
        (0.1, scalar(DType::I8, 0.0)),
        (
            constant(DType::I8, &[1, 1, 1, 1], &[3.0]),
            0.05,
            scalar(DType::I8, 2.0),
        ),
        None,
    );
    let Err(Error::Scales { issues }) = rewrite_scales(&graph, ScalePolicy::Exact) else {
        panic!("exact must refuse");
    };
    let found: Vec<(&str, &str, bool)> = issues
        .iter()
        .map(|i| {
            let zero_point = matches!(i.problem, ScaleProblem::ZeroPoint { .. });
            (i.tensor.as_str(), i.node.as_str(), zero_point)
        })
        .collect();
    assert_eq!(
        found,
        [
            ("xq", "quant_x", false),
            ("w", "dequant_w", true),
            ("w", "dequant_w", false)
        ]
    );
}

#[test]
fn per_channel_scales_snap_channel_by_channel_and_the_bias_follows() {
    // Channel 0 at 0.1 → 2^-3, channel 1 at 0.3 → 2^-2 (nearest). Input at 2^-3, so the
    // bias goes to 2^-6 and 2^-5: real 0.1 * 50 = 5.0 → 320; 0.2 * -3 = -0.6 → -19.2 → -19.
    let mut graph = conv_graph(
        (0.125, scalar(DType::I8, 0.0)),
        (
            constant(DType::I8, &[2, 1, 1, 2], &[10.0, -20.0, 10.0, -20.0]),
            0.0,
            constant(DType::I8, &[2], &[0.0, 0.0]),
        ),
        Some((constant(DType::I32, &[2], &[50.0, -3.0]), 0.0)),
    );
    graph
        .constants
        .insert("sw".into(), constant(DType::F32, &[2], &[0.1, 0.3]));
    graph
        .constants
        .insert("sb".into(), constant(DType::F32, &[2], &[0.1, 0.2]));
    graph
        .constants
        .insert("zb".into(), constant(DType::I32, &[2], &[0.0, 0.0]));
    for node in &mut graph.nodes {
        if node.name == "dequant_w" || node.name == "dequant_b" {
            node.attributes.insert("axis".into(), Attribute::Int(0));
        }
    }
    let (rewritten, report) = rewrite_scales(&graph, SNAP).unwrap();
    // 10 * 0.1 / 0.125 = 8, -20 * 0.1 / 0.125 = -16; 10 * 0.3 / 0.25 = 12, -24.
    assert_eq!(
        input_of(&rewritten, "dequant_w", 0).values,
        [8.0, -16.0, 12.0, -24.0]
    );
    assert_eq!(input_of(&rewritten, "dequant_w", 1).values, [0.125, 0.25]);
    assert_eq!(entry(&report, "w").exponents, [-3, -2]);
    assert_eq!(entry(&report, "b").exponents, [-6, -5]);
    assert_eq!(input_of(&rewritten, "dequant_b", 0).values, [320.0, -19.0]);
}
