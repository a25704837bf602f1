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

use super::{Attribute, Constant, DType, Graph, Node};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};

const MS_DOMAIN: &str = "com.microsoft";

/// A quantized input or output of a QOperator node: the indices of its tensor, scale and zero
/// point among the node's inputs (the zero point may be optional).
#[derive(Clone, Copy)]
struct Quantized {
    tensor: usize,
    scale: usize,
    zero_point: usize,
}

const fn quantized(tensor: usize, scale: usize, zero_point: usize) -> Quantized {
    Quantized {
        tensor,
        scale,
        zero_point,
    }
}

/// How one QOperator op maps onto its float op.
struct Form {
    float_op: &'static str,
    /// Dequantized inputs of the float op, in order.
    inputs: Vec<Quantized>,
    /// An int32 bias at scale `scale(inputs[0]) * scale(inputs[1])`: its input index.
    bias: Option<usize>,
    /// The input indices of the output's scale and zero point. Without a scale (QGemm's
    /// optional y_scale) the output stays float.
    output: [usize; 2],
}

impl Form {
    /// The output's scale and zero point tensor names ("" when absent).
    fn output_parameters<'n>(&self, node: &'n Node) -> (&'n str, &'n str) {
        let [scale, zero_point] = self.output;
        (
            Rewriter::input(node, scale),
            Rewriter::input(node, zero_point),
        )
    }
}

/// The form of a QOperator node, or `None` for every other node.
fn form(node: &Node) -> Result<Option<Form>> {
    let domain = match node.domain.as_str() {
        "" | "ai.onnx" => "",
        d => d,
    };
    let binary = |float_op| Form {
        float_op,
        inputs: vec![quantized(0, 1, 2), quantized(3, 4, 5)],
        bias: None,
        output: [6, 7],
    };
    let unary = |float_op| Form {
        float_op,
        inputs: vec![quantized(0, 1, 2)],
        bias: None,
        output: [3, 4],
    };
    Ok(Some(match (domain, node.op_type.as_str()) {
        ("", "QLinearConv") => Form {
            bias: Some(8),
            ..binary("Conv")
        },
        ("", "QLinearMatMul") => binary("MatMul"),
        (MS_DOMAIN, "QLinearAdd") => binary("Add"),
        (MS_DOMAIN, "QLinearMul") => binary("Mul"),
        (MS_DOMAIN, "QGemm") => Form {
            float_op: "Gemm",
            inputs: vec![quantized(0, 1, 2), quantized(3, 4, 5)],
            bias: Some(6),
            output: [7, 8],
        },
        (MS_DOMAIN, "QLinearGlobalAveragePool") => unary("GlobalAveragePool"),
        (MS_DOMAIN, "QLinearAveragePool") => unary("AveragePool"),
        (MS_DOMAIN, "QLinearSigmoid") => unary("Sigmoid"),
        (MS_DOMAIN, "QLinearLeakyRelu") => unary("LeakyRelu"),
        (MS_DOMAIN, "QLinearConcat") => {
            // Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input.
            let count = node.inputs.len().saturating_sub(2);
            if count == 0 || count % 3 != 0 {
                return Err(Error::node(
                    node,
                    format!(
                        "expects Y_scale, Y_zero_point and then triples (X, X_scale, X_zero_point); found {} inputs",
                        node.inputs.len()
                    ),
                ));
            }
            Form {
                float_op: "Concat",
                inputs: (0..count / 3)
                    .map(|i| quantized(2 + 3 * i, 3 + 3 * i, 4 + 3 * i))
                    .collect(),
                bias: None,
                output: [0, 1],
            }
        }
        _ => return Ok(None),
    }))
}

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
                return super::quantized_dtype(producer, zero_point);
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

    /// The QDQ nodes for one QOperator node.
    fn qoperator(&mut self, node: &Node, form: &Form) -> Result<Vec<Node>> {
        let mut nodes = Vec::new();
        let mut float_inputs = Vec::new();
        for (operand, q) in form.inputs.iter().enumerate() {
            let x = Self::required(node, q.tensor, "quantized input")?;
            let scale_name = Self::required(node, q.scale, "scale")?;
            let scale = self.constant_input(node, q.scale, "scale")?;
            let axis = self.channel_axis(node, operand, scale_name, scale)?;
            let role = format!("input{operand}");
            let (dq, output) = self.dequantize(
                node,
                &role,
                [x, scale_name, Self::input(node, q.zero_point)],
                axis,
            );
            nodes.push(dq);
            float_inputs.push(output);
        }
        if let Some(bias) = form.bias.filter(|&b| !Self::input(node, b).is_empty()) {
            // The int32 bias joins the accumulator, so its scale is the product of the input
            // scales (per output channel, its last axis, when the weight's is), computed in f32.
            let a = self.constant_input(node, form.inputs[0].scale, "scale")?;
            let b = self.constant_input(node, form.inputs[1].scale, "scale")?;
            let Some(a) = a.single() else {
                return Err(Error::node(
                    node,
                    "the first input's scale must be per tensor",
                ));
            };
            let product = Constant {
                dtype: DType::F32,
                dims: if b.len() > 1 { vec![b.len()] } else { vec![] },
                values: b
                    .values
                    .iter()
                    .map(|&s| (a as f32 * s as f32) as f64)
                    .collect(),
            };
            let axis = (product.len() > 1).then_some(-1);
            let scale = self.add_constant(format!("{}.bias_scale", node.name), product);
            let (dq, output) =
                self.dequantize(node, "bias", [Self::input(node, bias), &scale, ""], axis);
            nodes.push(dq);
            float_inputs.push(output);
        }

        let mut attributes = node.attributes.clone();
        match node.op_type.as_str() {
            // QGemm computes alpha * (A'B' + C): Gemm's beta is alpha.
            "QGemm" => {
                let alpha = node.attr_float("alpha", 1.0)?;
                attributes.insert("beta".into(), Attribute::Float(alpha));
            }
            "QLinearGlobalAveragePool" | "QLinearAveragePool" => {
                attributes.remove("channels_last");
            }
            _ => {}
        }
        let channels_last = node.attr_int("channels_last", 0)? != 0;
        let output = crate::ops::single_output(node)?;

        if channels_last && node.op_type == "QLinearGlobalAveragePool" {
            return self.channels_last_pool(node, form, nodes, &float_inputs[0], attributes);
        }
        if channels_last {
            return Err(Error::node(
                node,
                "channels_last = 1 is not supported for this op; export it channels-first",
            ));
        }

        let (scale, zero_point) = form.output_parameters(node);
        if node.op_type == "QGemm" && !scale.is_empty() && zero_point.is_empty() {
            // ONNX Runtime then writes float values divided by y_scale, not integers.
            return Err(Error::node(
                node,
                "has y_scale but no y_zero_point, which makes ONNX Runtime output floats \
                 divided by y_scale; give y_zero_point (a quantized output) or neither",
            ));
        }
        if scale.is_empty() {
            if !zero_point.is_empty() {
                return Err(Error::node(
                    node,
                    "has an output zero point but no output scale",
                ));
            }
            // QGemm without y_scale: a float output.
            nodes.push(float_node(
                node,
                form.float_op,
                float_inputs,
                output,
                attributes,
            ));
            return Ok(nodes);
        }
        let float_output = self.fresh(format!("{}.float", node.name));
        nodes.push(float_node(
            node,
            form.float_op,
            float_inputs,
            &float_output,
            attributes,
        ));
        nodes.push(self.quantize(node, form, &float_output, output)?);
        Ok(nodes)
    }

    /// QLinearGlobalAveragePool with channels_last = 1 on an input [N, spatial..., C]:
    /// Transpose to [N, C, spatial...] (requantized at the input's own scale: a pure move),
    /// pool to [N, C, 1...], quantize, and Reshape to [N, 1..., C], which holds the same bytes
    /// in the same order.
    fn channels_last_pool(
        &mut self,
        node: &Node,
        form: &Form,
        mut nodes: Vec<Node>,
        x: &str,
        attributes: BTreeMap<String, Attribute>,
    ) -> Result<Vec<Node>> {
        let rank = self.rank(Self::input(node, 0)).ok_or_else(|| {
            Error::node(
                node,
                "channels_last = 1 needs the input's rank: declare the input's shape in the model's value_info",
            )
        })?;
        if rank < 3 {
            return Err(Error::node(
                node,
                format!("channels_last = 1 needs an input of rank 3 or more, found rank {rank}"),
            ));
        }
        let r = rank as i64;
        let perm: Vec<i64> = [0, r - 1].into_iter().chain(1..r - 1).collect();
        let transposed = self.fresh(format!("{}.channels_first", node.name));
        nodes.push(Node {
            name: transposed.clone(),
            op_type: "Transpose".into(),
            domain: String::new(),
            inputs: vec![x.to_string()],
            outputs: vec![transposed.clone()],
            attributes: BTreeMap::from([("perm".to_string(), Attribute::Ints(perm))]),
        });
        let input_parameters = [
            Self::input(node, 1).to_string(),
            self.zero_point(node, Self::input(node, 2), Self::input(node, 0))?,
        ];
        let transposed = self.round_trip(
            node,
            "channels_first",
            &transposed,
            &input_parameters,
            &mut nodes,
        );
        let pooled = self.fresh(format!("{}.float", node.name));
        nodes.push(float_node(
            node,
            form.float_op,
            vec![transposed],
            &pooled,
            attributes,
        ));
        let (scale, zero_point) = form.output_parameters(node);
        let output_parameters = [
            scale.to_string(),
            self.zero_point(node, zero_point, Self::input(node, 0))?,
        ];
        let pooled = self.round_trip(node, "pooled", &pooled, &output_parameters, &mut nodes);
        // [0, 1, ..., 1, -1]: N copied, C inferred.
        let shape: Vec<f64> = std::iter::once(0.0)
            .chain(std::iter::repeat_n(1.0, rank - 2))
            .chain(std::iter::once(-1.0))
            .collect();
        let shape = self.add_constant(
            format!("{}.channels_last_shape", node.name),
            Constant {
                dtype: DType::I64,
                dims: vec![rank],
                values: shape,
            },
        );
        let reshaped = self.fresh(format!("{}.channels_last", node.name));
        nodes.push(Node {
            name: reshaped.clone(),
            op_type: "Reshape".into(),
            domain: String::new(),
            inputs: vec![pooled, shape],
            outputs: vec![reshaped.clone()],
            attributes: BTreeMap::new(),
        });
        let output = crate::ops::single_output(node)?;
        nodes.push(quantize_node(
            format!("{}.quantize", node.name),
            &reshaped,
            &output_parameters,
            output,
        ));
        Ok(nodes)
    }

    /// QuantizeLinear then DequantizeLinear of the float `x` at `parameters` (scale, zero
    /// point): appends both and returns the float result.
    fn round_trip(
        &mut self,
        node: &Node,
        role: &str,
        x: &str,
        parameters: &[String; 2],
        nodes: &mut Vec<Node>,
    ) -> String {
        let quantized = self.fresh(format!("{}.{role}_quantized", node.name));
        nodes.push(quantize_node(
            format!("{quantized}.quantize"),
            x,
            parameters,
            &quantized,
        ));
        let (dq, output) = self.dequantize(
            node,
            role,
            [&quantized, &parameters[0], &parameters[1]],
            None,
        );
        nodes.push(dq);
        output
    }

    /// ConvInteger/MatMulInteger in the pattern ONNX Runtime's quantizer writes:
    /// `x = QuantizeLinear(...)` (static) -> integer op -> Cast to float -> Mul by the scale
    /// product (a constant, or a Mul of two constants). It becomes DequantizeLinear of x and of
    /// the weight, and the float op writing the Mul's output. Returns the new nodes and the
    /// indices of the absorbed Cast and Mul nodes.
    fn integer_op(&mut self, node: &Node) -> Result<(Vec<Node>, Vec<usize>)> {
        let pattern = "must be the start of the pattern ONNX Runtime writes: a static \
                       QuantizeLinear produces its input, and its int32 output goes only through \
                       Cast to float and then Mul by the constant scale product";
        let is_conv = node.op_type == "ConvInteger";
        let output = crate::ops::single_output(node)?;
        let x = Self::required(node, 0, "quantized input")?;
        let w_name = Self::required(node, 1, "weight")?;
        let w = self.constant_input(node, 1, "weight")?;
        let w_rank = w.dims.len();
        let quantize = self
            .nodes
            .iter()
            .find(|n| n.op_type == "QuantizeLinear" && n.outputs.first().is_some_and(|o| o == x))
            .ok_or_else(|| {
                Error::node(
                    node,
                    format!("{pattern}; '{x}' does not come from a QuantizeLinear"),
                )
            })?;
        let x_scale_name = Self::required(quantize, 1, "scale")?;
        let x_scale = self
            .constant(x_scale_name)
            .and_then(Constant::single)
            .ok_or_else(|| {
                Error::node(
                    node,
                    format!("{pattern}; the scale of '{x}' is not one constant value"),
                )
            })?;
        let cast = self
            .sole_consumer(output, "Cast")
            .filter(|&c| self.nodes[c].attr_int("to", 0).ok() == Some(1));
        let Some(cast) = cast else {
            return Err(Error::node(
                node,
                format!("{pattern}; '{output}' is not read by one Cast to float only"),
            ));
        };
        let cast_output = crate::ops::single_output(&self.nodes[cast])?;
        let Some(mul) = self.sole_consumer(cast_output, "Mul") else {
            return Err(Error::node(
                node,
                format!("{pattern}; '{cast_output}' is not read by one Mul only"),
            ));
        };
        let mul_node = &self.nodes[mul];
        let product_name = mul_node
            .inputs
            .iter()
            .find(|i| *i != cast_output)
            .cloned()
            .unwrap_or_default();
        let mut absorbed = vec![cast, mul];
        let product = match self.constant(&product_name) {
            Some(c) => c.clone(),
            None => {
                // The quantizer's Mul(x_scale, w_scale), when only this node reads it.
                let Some(scales) = self.sole_producer_mul(&product_name) else {
                    return Err(Error::node(
                        node,
                        format!("{pattern}; the scale product '{product_name}' is not constant"),
                    ));
                };
                absorbed.push(scales);
                let factors = [0, 1].map(|i| self.constant(Self::input(&self.nodes[scales], i)));
                let [Some(a), Some(b)] = factors else {
                    return Err(Error::node(
                        node,
                        format!("{pattern}; the scale product '{product_name}' is not constant"),
                    ));
                };
                let (one, other) = if b.len() > 1 { (a, b) } else { (b, a) };
                let Some(one) = one.single() else {
                    return Err(Error::node(node, format!("{pattern}; the scale product '{product_name}' has two per-channel factors")));
                };
                Constant {
                    dtype: DType::F32,
                    dims: other.dims.clone(),
                    values: other
                        .values
                        .iter()
                        .map(|&v| (one as f32 * v as f32) as f64)
                        .collect(),
                }
            }
        };
        // The weight's scale: the product over x's scale, one value or one per output channel
        // (the f32 quotient is exact for power-of-two scales; within an f32 rounding otherwise).
        let channel_dim = if is_conv { 1 } else { w_rank.saturating_sub(1) };
        let rank = if is_conv {
            w_rank
        } else {
            w_rank.max(product.dims.len())
        };
        let per_channel = product.len() > 1;
        if per_channel {
            let offset = rank.saturating_sub(product.dims.len());
            let ok = product
                .dims
                .iter()
                .enumerate()
                .all(|(i, &d)| d == 1 || i + offset == channel_dim);
            if !ok || product.dims.len() > rank {
                return Err(Error::node(
                    node,
                    format!("the scale product '{product_name}' of shape {:?} is neither one value nor one per output channel", product.dims),
                ));
            }
        }
        let w_scale = Constant {
            dtype: DType::F32,
            dims: if per_channel {
                vec![product.len()]
            } else {
                vec![]
            },
            values: product
                .values
                .iter()
                .map(|&p| (p as f32 / x_scale as f32) as f64)
                .collect(),
        };
        let w_axis = per_channel.then_some(if is_conv { 0 } else { channel_dim as i64 });
        let w_scale = self.add_constant(format!("{}.weight_scale", node.name), w_scale);
        let mut nodes = Vec::new();
        let (dq_x, x_float) = self.dequantize(
            node,
            "input0",
            [x, x_scale_name, Self::input(node, 2)],
            None,
        );
        nodes.push(dq_x);
        let (dq_w, w_float) = self.dequantize(
            node,
            "input1",
            [w_name, &w_scale, Self::input(node, 3)],
            w_axis,
        );
        nodes.push(dq_w);
        let float_op = if is_conv { "Conv" } else { "MatMul" };
        let mul_output = crate::ops::single_output(mul_node)?.to_string();
        nodes.push(float_node(
            node,
            float_op,
            vec![x_float, w_float],
            &mul_output,
            node.attributes.clone(),
        ));
        Ok((nodes, absorbed))
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
