//! Layout ops at the float edges of a model. Quantizers leave shape ops on the float side of
//! the quantized core (ONNX Runtime's `quantize_static` keeps a `Flatten` on the graph input
//! before its first QuantizeLinear). A pure layout op moves elements without changing them, and
//! a per-tensor QuantizeLinear or DequantizeLinear maps each element alone, so the two commute
//! exactly:
//! - `x -> L1 -> .. -> Lk -> QuantizeLinear` becomes `x -> QuantizeLinear -> L1 -> .. -> Lk`;
//! - `DequantizeLinear -> L1 -> .. -> Lk -> y` becomes `L1 -> .. -> Lk -> DequantizeLinear -> y`.
//!
//! The layout ops then run on integers inside the quantized core.

use crate::onnx::{Graph, Node};
use std::collections::BTreeSet;

/// Ops that only move elements (or none), so that they commute with a per-tensor
/// QuantizeLinear or DequantizeLinear.
const LAYOUT_OPS: &[&str] = &[
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Identity",
];

fn is_layout(node: &Node) -> bool {
    node.domain.is_empty() && LAYOUT_OPS.contains(&node.op_type.as_str())
}

/// Whether `node` quantizes or dequantizes with one scale (a scalar scale, hence no axis that
/// a layout op would move), into one output.
fn per_tensor(graph: &Graph, node: &Node, op: &str) -> bool {
    node.op_type == op
        && node.domain.is_empty()
        && node.outputs.len() == 1
        && node
            .inputs
            .get(1)
            .and_then(|s| graph.constants.get(s))
            .is_some_and(|scale| scale.values.len() == 1)
        && node.inputs.get(2).is_none_or(|z| {
            z.is_empty() || graph.constants.get(z).is_some_and(|z| z.values.len() == 1)
        })
}

/// Commutes the layout ops at the float edges through their QuantizeLinear/DequantizeLinear.
/// Any other op left on a float graph input is refused by the lowering, which names it.
pub fn commute_layout_ops(graph: &mut Graph) {
    let inputs: Vec<String> = graph.inputs.iter().map(|i| i.name.clone()).collect();
    for input in &inputs {
        commute_input(graph, input);
    }
    let outputs: Vec<String> = graph.outputs.iter().map(|o| o.name.clone()).collect();
    for output in &outputs {
        commute_output(graph, output);
    }
}

/// Indices of the nodes reading `tensor`.
fn consumers(graph: &Graph, tensor: &str) -> Vec<usize> {
    (0..graph.nodes.len())
        .filter(|&i| graph.nodes[i].inputs.iter().any(|t| t == tensor))
        .collect()
}

fn is_graph_output(graph: &Graph, tensor: &str) -> bool {
    graph.outputs.iter().any(|o| o.name == tensor)
}

/// `input -> L1 -> .. -> Lk -> Q` with each tensor read by the next node alone: the chain's
/// node indices and Q's.
fn input_chain(graph: &Graph, input: &str) -> Option<(Vec<usize>, usize)> {
    let mut chain = Vec::new();
    let mut tensor = input.to_string();
    loop {
        let [next] = consumers(graph, &tensor)[..] else {
            return None;
        };
        if is_graph_output(graph, &tensor) {
            return None;
        }
        let node = &graph.nodes[next];
        // The data input only: Reshape's shape and Squeeze's axes are constants.
        if node.inputs.first() != Some(&tensor) {
            return None;
        }
        if per_tensor(graph, node, "QuantizeLinear") {
            return (!chain.is_empty()).then_some((chain, next));
        }
        if !is_layout(node) || node.outputs.len() != 1 {
            return None;
        }
        chain.push(next);
        tensor = node.outputs[0].clone();
    }
}

fn commute_input(graph: &mut Graph, input: &str) {
    let Some((chain, quantize)) = input_chain(graph, input) else {
        return;
    };
    // Q now reads the input and writes a fresh tensor; the chain moves that tensor and its
    // last node writes Q's old output, so Q's readers are unchanged.
    let quantized = fresh_name(graph, &format!("{input}_quantized"));
    let q_output = graph.nodes[quantize].outputs[0].clone();
    let mut q = graph.nodes.remove(quantize);
    q.inputs[0] = input.to_string();
    q.outputs[0] = quantized.clone();
    let (first, last) = (chain[0], *chain.last().expect("a nonempty chain"));
    graph.nodes[first].inputs[0] = quantized;
    graph.nodes[last].outputs[0] = q_output;
    // Every chain node precedes Q, so the removal left their indices alone.
    graph.nodes.insert(first, q);
}

/// `DQ -> L1 -> .. -> Lk -> output` with each tensor read by the next node alone: DQ's node
/// index and the chain's.
fn output_chain(graph: &Graph, output: &str) -> Option<(usize, Vec<usize>)> {
    let mut chain = Vec::new();
    let mut tensor = output.to_string();
    loop {
        let producer = graph
            .nodes
            .iter()
            .position(|n| n.outputs.contains(&tensor))?;
        let node = &graph.nodes[producer];
        if per_tensor(graph, node, "DequantizeLinear") {
            chain.reverse();
            return (!chain.is_empty()).then_some((producer, chain));
        }
        if !is_layout(node) || node.outputs.len() != 1 {
            return None;
        }
        let source = node.inputs.first()?.clone();
        // The moved tensors must be read by the chain alone.
        if consumers(graph, &source).len() != 1 || is_graph_output(graph, &source) {
            return None;
        }
        chain.push(producer);
        tensor = source;
    }
}

fn commute_output(graph: &mut Graph, output: &str) {
    let Some((dequantize, chain)) = output_chain(graph, output) else {
        return;
    };
    // The chain reads DQ's integer input and writes a fresh tensor, which DQ turns into the
    // graph output.
    let integer = fresh_name(graph, &format!("{output}_quantized"));
    let (first, last) = (chain[0], *chain.last().expect("a nonempty chain"));
    let mut dq = graph.nodes.remove(dequantize);
    // Every chain node follows DQ: their indices moved down by one.
    let (first, last) = (first - 1, last - 1);
    graph.nodes[first].inputs[0] = dq.inputs[0].clone();
    graph.nodes[last].outputs[0] = integer.clone();
    dq.inputs[0] = integer;
    dq.outputs[0] = output.to_string();
    graph.nodes.insert(last + 1, dq);
}

/// A name no tensor of the graph has.
fn fresh_name(graph: &Graph, base: &str) -> String {
    let taken: BTreeSet<&str> = graph
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter().chain(&n.outputs))
        .map(String::as_str)
        .chain(graph.constants.keys().map(String::as_str))
        .chain(graph.inputs.iter().map(|i| i.name.as_str()))
        .chain(graph.outputs.iter().map(|o| o.name.as_str()))
        .collect();
    (0..)
        .map(|i| {
            if i == 0 {
                base.to_string()
            } else {
                format!("{base}_{i}")
            }
        })
        .find(|name| !taken.contains(name.as_str()))
        .expect("an unused name")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::{Constant, DType, ValueInfo};
    use std::collections::BTreeMap;

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> Node {
        Node {
            name: format!("{op}_{}", outputs[0]),
            op_type: op.into(),
            domain: String::new(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            attributes: Default::default(),
        }
    }

    fn graph(nodes: Vec<Node>) -> Graph {
        let scalar = |v| Constant {
            dtype: DType::F32,
            dims: vec![],
            values: vec![v],
        };
        let mut constants = BTreeMap::new();
        constants.insert("s".to_string(), scalar(0.5));
        constants.insert(
            "s2".to_string(),
            Constant {
                dtype: DType::F32,
                dims: vec![2],
                values: vec![0.5, 0.25],
            },
        );
        let info = |name: &str| ValueInfo {
            name: name.into(),
            dtype: DType::F32,
            shape: Some(vec![1, 2, 2]),
        };
        Graph {
            file_name: "m.onnx".into(),
            sha256: String::new(),
            opset: 13,
            producer: String::new(),
            inputs: vec![info("x")],
            outputs: vec![info("y")],
            constants,
            nodes,
            declared_shapes: BTreeMap::new(),
        }
    }

    fn ops(graph: &Graph) -> Vec<(String, Vec<String>, Vec<String>)> {
        graph
            .nodes
            .iter()
            .map(|n| (n.op_type.clone(), n.inputs.clone(), n.outputs.clone()))
            .collect()
    }

    fn op(name: &str, inputs: &[&str], outputs: &[&str]) -> (String, Vec<String>, Vec<String>) {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        (name.into(), strings(inputs), strings(outputs))
    }

    #[test]
    fn layout_ops_move_inside_both_edges() {
        let mut g = graph(vec![
            node("Flatten", &["x"], &["f"]),
            node("Identity", &["f"], &["i"]),
            node("QuantizeLinear", &["i", "s"], &["q"]),
            node("DequantizeLinear", &["q", "s"], &["d"]),
            node("Relu", &["d"], &["r"]),
            node("QuantizeLinear", &["r", "s"], &["q2"]),
            node("DequantizeLinear", &["q2", "s"], &["d2"]),
            node("Reshape", &["d2", "shape"], &["y"]),
        ]);
        commute_layout_ops(&mut g);
        assert_eq!(
            ops(&g),
            [
                op("QuantizeLinear", &["x", "s"], &["x_quantized"]),
                op("Flatten", &["x_quantized"], &["f"]),
                op("Identity", &["f"], &["q"]),
                op("DequantizeLinear", &["q", "s"], &["d"]),
                op("Relu", &["d"], &["r"]),
                op("QuantizeLinear", &["r", "s"], &["q2"]),
                op("Reshape", &["q2", "shape"], &["y_quantized"]),
                op("DequantizeLinear", &["y_quantized", "s"], &["y"]),
            ]
        );
    }

    #[test]
    fn per_axis_quantization_and_shared_tensors_stay() {
        // A per-axis scale would follow the moved axis; a second reader of the float tensor
        // would lose it.
        let per_axis = vec![
            node("Flatten", &["x"], &["f"]),
            node("QuantizeLinear", &["f", "s2"], &["y"]),
        ];
        let shared = vec![
            node("Flatten", &["x"], &["f"]),
            node("QuantizeLinear", &["f", "s"], &["q"]),
            node("Relu", &["f"], &["y"]),
        ];
        let other = vec![
            node("Mul", &["x", "s"], &["m"]),
            node("QuantizeLinear", &["m", "s"], &["y"]),
        ];
        for nodes in [per_axis, shared, other] {
            let mut g = graph(nodes);
            let before = ops(&g);
            commute_layout_ops(&mut g);
            assert_eq!(ops(&g), before);
        }
    }
}
