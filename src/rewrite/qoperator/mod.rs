//! The QOperator format, rewritten into QDQ at load time.
//!
//! ONNX Runtime's quantizer can write a quantized op as one node that takes integer tensors
//! with their scales and zero points (QLinearConv, com.microsoft QLinearAdd, ...), or as
//! ConvInteger/MatMulInteger whose int32 result is cast to float and multiplied by the scale
//! product. Each becomes the QDQ subgraph it stands for,
//!
//! ```text
//! DequantizeLinear(each quantized input) -> float op -> QuantizeLinear(output scale, zero point)
//! ```
//!
//! so that the lowering (and every Graph pass after this one) sees only QDQ. With power-of-two
//! scales the two agree exactly: ONNX Runtime's QOperator kernels accumulate in integers and
//! requantize with a float multiplier that is then a power of two, which is what the lowering's
//! integer shift computes (the fixtures under `codegen-tests/models/ops/q*` check it).
//! The float op keeps the QOperator node's name, so messages about it name the model's node.

mod integer;
mod qlinear;

use crate::error::{Error, Result};
use crate::onnx::{Attribute, Constant, DType, Graph, Node};
use qlinear::{form, Form};
use std::collections::{BTreeMap, BTreeSet};
/// Rewrites every QOperator node of `graph` into QDQ; ConvInteger/MatMulInteger absorb the
/// Cast and Mul after them. DynamicQuantizeLinear is an error.
pub fn rewrite(graph: &mut Graph) -> Result<()> {
    let original = std::mem::take(&mut graph.nodes);
    let mut rewriter = Rewriter::new(graph, &original);
    // One entry per original node: `None` keeps it, `Some(nodes)` replaces it.
    let mut replaced: Vec<Option<Vec<Node>>> = vec![None; original.len()];
    for (index, node) in original.iter().enumerate() {
        if replaced[index].is_some() {
            continue; // absorbed by an integer op's pattern
        }
        let is_default = node.domain.is_empty() || node.domain == "ai.onnx";
        if is_default && node.op_type == "DynamicQuantizeLinear" {
            return Err(Error::node(
                node,
                "is not supported: it computes its scale and zero point at run time from the \
                 data, so the tensor has no static power-of-two exponent to compile into integer \
                 code; quantize the model statically instead (QuantizeLinear with constant \
                 scales, e.g. onnxruntime.quantization.quantize_static)",
            ));
        }
        if is_default && matches!(node.op_type.as_str(), "ConvInteger" | "MatMulInteger") {
            let (nodes, absorbed) = rewriter.integer_op(node)?;
            for a in absorbed {
                replaced[a] = Some(Vec::new());
            }
            replaced[index] = Some(nodes);
        } else if let Some(form) = form(node)? {
            replaced[index] = Some(rewriter.qoperator(node, &form)?);
        }
    }
    let Rewriter { constants, .. } = rewriter;
    graph.constants.extend(constants);
    graph.nodes = original
        .into_iter()
        .zip(replaced)
        .flat_map(|(node, r)| r.unwrap_or_else(|| vec![node]))
        .collect();
    Ok(())
}

struct Rewriter<'g> {
    graph: &'g Graph,
    nodes: &'g [Node],
    /// Every tensor name in use, so that new names never collide.
    used: BTreeSet<String>,
    /// New constants (scale products, zero points, shapes).
    constants: BTreeMap<String, Constant>,
    /// Tensor name to the indices of the nodes that read it.
    consumers: BTreeMap<&'g str, Vec<usize>>,
}

impl<'g> Rewriter<'g> {
    fn new(graph: &'g Graph, nodes: &'g [Node]) -> Rewriter<'g> {
        let mut used: BTreeSet<String> = graph.constants.keys().cloned().collect();
        used.extend(graph.inputs.iter().map(|v| v.name.clone()));
        used.extend(graph.outputs.iter().map(|v| v.name.clone()));
        let mut consumers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, node) in nodes.iter().enumerate() {
            used.extend(node.outputs.iter().cloned());
            for input in node.inputs.iter().filter(|i| !i.is_empty()) {
                consumers.entry(input).or_default().push(index);
            }
        }
        Rewriter {
            graph,
            nodes,
            used,
            constants: BTreeMap::new(),
            consumers,
        }
    }

    /// A tensor name from `stem` that no tensor of the model uses: `stem`, else `stem_2`, ...
    fn fresh(&mut self, stem: String) -> String {
        let mut name = stem.clone();
        let mut n = 1;
        while self.used.contains(&name) {
            n += 1;
            name = format!("{stem}_{n}");
        }
        self.used.insert(name.clone());
        name
    }

    fn add_constant(&mut self, stem: String, value: Constant) -> String {
        let name = self.fresh(stem);
        self.constants.insert(name.clone(), value);
        name
    }

    fn constant(&self, name: &str) -> Option<&Constant> {
        self.graph
            .constants
            .get(name)
            .or_else(|| self.constants.get(name))
    }

    /// Input `index` of `node`, or "" when absent.
    fn input(node: &Node, index: usize) -> &str {
        node.inputs.get(index).map_or("", String::as_str)
    }

    fn required<'n>(node: &'n Node, index: usize, what: &str) -> Result<&'n str> {
        match Self::input(node, index) {
            "" => Err(Error::node(
                node,
                format!("input {index} ({what}) is missing"),
            )),
            name => Ok(name),
        }
    }

    fn constant_input(&self, node: &Node, index: usize, what: &str) -> Result<&Constant> {
        let name = Self::required(node, index, what)?;
        self.constant(name).ok_or_else(|| {
            Error::node(
                node,
                format!("{what} '{name}' must be a constant (an initializer or a Constant node)"),
            )
        })
    }

    /// `DequantizeLinear(x, scale, zero_point)` with `axis` for a per-channel scale; returns
    /// the node and its float output.
    fn dequantize(
        &mut self,
        node: &Node,
        role: &str,
        [x, scale, zero_point]: [&str; 3],
        axis: Option<i64>,
    ) -> (Node, String) {
        let output = self.fresh(format!("{}.{role}_dequantized", node.name));
        let mut inputs = vec![x.to_string(), scale.to_string()];
        if !zero_point.is_empty() {
            inputs.push(zero_point.to_string());
        }
        let mut attributes = BTreeMap::new();
        if let Some(axis) = axis {
            attributes.insert("axis".to_string(), Attribute::Int(axis));
        }
        let dq = Node {
            name: output.clone(),
            op_type: "DequantizeLinear".into(),
            domain: String::new(),
            inputs,
            outputs: vec![output.clone()],
            attributes,
        };
        (dq, output)
    }

    /// `QuantizeLinear` of the float `x` into the node's output, at the output's scale and
    /// zero point.
    fn quantize(&mut self, node: &Node, form: &Form, x: &str, output: &str) -> Result<Node> {
        let (scale, zero_point) = form.output_parameters(node);
        let first_input = Self::input(node, form.inputs[0].tensor);
        let zero_point = self.zero_point(node, zero_point, first_input)?;
        Ok(quantize_node(
            format!("{}.quantize", node.name),
            x,
            &[scale.to_string(), zero_point],
            output,
        ))
    }

    /// The zero point input for a QuantizeLinear. A QOperator tensor without a zero point has
    /// the integer type of `like`, which a QuantizeLinear without one would not (uint8): it
    /// gets an explicit zero of that type.
    fn zero_point(&mut self, node: &Node, zero_point: &str, like: &str) -> Result<String> {
        if !zero_point.is_empty() {
            return Ok(zero_point.to_string());
        }
        let dtype = self.integer_type(node, like)?;
        Ok(self.add_constant(
            format!("{}.zero_point", node.name),
            Constant::scalar(dtype, 0.0),
        ))
    }

    /// The integer type of a quantized tensor: of the constant, or of the zero point of the
    /// QuantizeLinear or QOperator node that produces it.
    fn integer_type(&self, node: &Node, tensor: &str) -> Result<DType> {
        let mut tensor = tensor;
        // Bounded by the node count: each step moves to an earlier producer.
        for _ in 0..=self.nodes.len() {
            if let Some(c) = self.constant(tensor) {
                return Ok(c.dtype);
            }
            let Some(producer) = self
                .nodes
                .iter()
                .find(|n| n.outputs.iter().any(|o| o == tensor))
            else {
                break;
            };
            if producer.op_type == "QuantizeLinear" {
                let zero_point = self.constant(Self::input(producer, 2));
                return crate::onnx::quantized_dtype(producer, zero_point);
            }
            let Some(form) = form(producer)? else {
                break;
            };
            if let Some(c) = self.constant(form.output_parameters(producer).1) {
                return Ok(c.dtype);
            }
            // A QOperator output without a zero point has its first input's type.
            tensor = Self::input(producer, form.inputs[0].tensor);
        }
        Err(Error::node(
            node,
            format!("has no output zero point and the integer type of '{tensor}' is unknown; give the zero point"),
        ))
    }

    /// The rank of a tensor, from the model's declared shapes or through the rank-preserving
    /// producers before it.
    fn rank(&self, tensor: &str) -> Option<usize> {
        const SAME_RANK: &[&str] = &[
            "QuantizeLinear",
            "DequantizeLinear",
            "QLinearConv",
            "Conv",
            "Relu",
            "Clip",
            "QLinearSigmoid",
            "QLinearLeakyRelu",
            "QLinearAveragePool",
        ];
        let mut tensor = tensor;
        for _ in 0..=self.nodes.len() {
            if let Some(dims) = self.graph.declared_shapes.get(tensor) {
                return Some(dims.len());
            }
            if let Some(v) = self.graph.inputs.iter().find(|v| v.name == tensor) {
                return v.shape.as_ref().map(Vec::len);
            }
            let producer = self
                .nodes
                .iter()
                .find(|n| n.outputs.iter().any(|o| o == tensor))?;
            if !SAME_RANK.contains(&producer.op_type.as_str()) {
                return None;
            }
            tensor = Self::input(producer, 0);
        }
        None
    }

    /// The per-channel axis of a dequantized operand, when its scale has several values.
    fn channel_axis(
        &self,
        node: &Node,
        operand: usize,
        scale_name: &str,
        scale: &Constant,
    ) -> Result<Option<i64>> {
        if scale.len() <= 1 {
            return Ok(None);
        }
        let axis = match (node.op_type.as_str(), operand) {
            // Conv weights [M, C/group, k...]: one scale per output channel.
            ("QLinearConv", 1) => 0,
            // B of MatMul is [..., K, N], of Gemm [K, N] or [N, K] with transB: per column.
            ("QLinearMatMul", 1) => -1,
            ("QGemm", 1) => {
                if node.attr_int("transB", 0)? != 0 {
                    0
                } else {
                    1
                }
            }
            _ => {
                return Err(Error::node(
                    node,
                    format!(
                        "scale '{scale_name}' has {} values; only a weight may be quantized per channel",
                        scale.len()
                    ),
                ))
            }
        };
        Ok(Some(axis))
    }

    /// The index of the one node that reads `tensor`, when it is an `op_type` node and the
    /// tensor is no graph output.
    fn sole_consumer(&self, tensor: &str, op_type: &str) -> Option<usize> {
        match self.consumers.get(tensor).map(Vec::as_slice) {
            Some(&[c]) if self.nodes[c].op_type == op_type && !self.is_graph_output(tensor) => {
                Some(c)
            }
            _ => None,
        }
    }

    /// The index of the Mul of two constants that produces `tensor`, when only one node reads
    /// the tensor.
    fn sole_producer_mul(&self, tensor: &str) -> Option<usize> {
        let index = self
            .nodes
            .iter()
            .position(|n| n.op_type == "Mul" && n.outputs.first().is_some_and(|o| o == tensor))?;
        let node = &self.nodes[index];
        let constants =
            node.inputs.len() == 2 && node.inputs.iter().all(|i| self.constant(i).is_some());
        let sole = self.consumers.get(tensor).is_some_and(|c| c.len() == 1);
        (constants && sole && !self.is_graph_output(tensor)).then_some(index)
    }

    fn is_graph_output(&self, tensor: &str) -> bool {
        self.graph.outputs.iter().any(|o| o.name == tensor)
    }
}

/// The float op that replaces a QOperator node: it keeps the node's name.
fn float_node(
    node: &Node,
    op_type: &str,
    inputs: Vec<String>,
    output: &str,
    attributes: BTreeMap<String, Attribute>,
) -> Node {
    Node {
        name: node.name.clone(),
        op_type: op_type.into(),
        domain: String::new(),
        inputs,
        outputs: vec![output.to_string()],
        attributes,
    }
}

/// `QuantizeLinear(x, scale, zero_point) -> output`.
fn quantize_node(name: String, x: &str, [scale, zero_point]: &[String; 2], output: &str) -> Node {
    Node {
        name,
        op_type: "QuantizeLinear".into(),
        domain: String::new(),
        inputs: vec![x.to_string(), scale.clone(), zero_point.clone()],
        outputs: vec![output.to_string()],
        attributes: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::ValueInfo;

    fn node(op_type: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> Node {
        Node {
            name: name.into(),
            op_type: op_type.into(),
            domain: String::new(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            attributes: BTreeMap::new(),
        }
    }

    /// `x -> QuantizeLinear -> QLinearMatMul "mm" -> DequantizeLinear -> y`, where the model
    /// already uses the names the rewrite would pick first.
    fn matmul_graph() -> Graph {
        let scale = Constant::scalar(DType::F32, 0.5);
        let zero = Constant::scalar(DType::I8, 0.0);
        let weight = Constant {
            dtype: DType::I8,
            dims: vec![2, 2],
            values: vec![1.0, -2.0, 3.0, -4.0],
        };
        let float = ValueInfo {
            name: String::new(),
            dtype: DType::F32,
            shape: Some(vec![1, 2]),
        };
        Graph {
            file_name: "m.onnx".into(),
            sha256: String::new(),
            opset: 13,
            producer: String::new(),
            inputs: vec![ValueInfo {
                name: "x".into(),
                ..float.clone()
            }],
            outputs: vec![ValueInfo {
                name: "y".into(),
                ..float
            }],
            constants: BTreeMap::from([
                ("s".to_string(), scale),
                ("z".to_string(), zero),
                ("w".to_string(), weight),
                // Taken names: the rewrite must step around them.
                (
                    "mm.input0_dequantized".to_string(),
                    Constant::scalar(DType::F32, 1.0),
                ),
            ]),
            nodes: vec![
                node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
                node(
                    "QLinearMatMul",
                    "mm",
                    &["xq", "s", "z", "w", "s", "z", "s", "z"],
                    &["mm.float"],
                ),
                node("DequantizeLinear", "dq", &["mm.float", "s", "z"], &["y"]),
            ],
            declared_shapes: BTreeMap::new(),
        }
    }

    #[test]
    fn qlinear_matmul_becomes_qdq_with_fresh_deterministic_names() {
        let mut graph = matmul_graph();
        rewrite(&mut graph).unwrap();
        let ops: Vec<&str> = graph.nodes.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops,
            [
                "QuantizeLinear",
                "DequantizeLinear",
                "DequantizeLinear",
                "MatMul",
                "QuantizeLinear",
                "DequantizeLinear"
            ]
        );
        let matmul = &graph.nodes[3];
        assert_eq!(matmul.name, "mm", "the float op keeps the node's name");
        assert_eq!(
            matmul.inputs,
            ["mm.input0_dequantized_2", "mm.input1_dequantized"]
        );
        assert_eq!(matmul.outputs, ["mm.float_2"]);
        assert_eq!(
            graph.nodes[4].outputs,
            ["mm.float"],
            "the output keeps its name"
        );
        // Every tensor still has one producer, and a second run gives the same graph.
        let mut outputs: Vec<&String> = graph.nodes.iter().flat_map(|n| &n.outputs).collect();
        outputs.sort();
        outputs.dedup();
        assert_eq!(outputs.len(), graph.nodes.len());
        let mut again = matmul_graph();
        rewrite(&mut again).unwrap();
        let names = |g: &Graph| -> Vec<Vec<String>> {
            g.nodes
                .iter()
                .map(|n| [n.inputs.clone(), n.outputs.clone()].concat())
                .collect()
        };
        assert_eq!(names(&graph), names(&again));
    }
}
