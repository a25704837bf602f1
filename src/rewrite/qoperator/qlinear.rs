//! The QLinear* ops (QLinearConv, QLinearMatMul, com.microsoft QGemm, QLinearAdd, ...): one
//! node with integer inputs, their scales and zero points, rewritten into DequantizeLinear,
//! the float op and QuantizeLinear.

use super::{float_node, quantize_node, Rewriter};
use crate::error::{Error, Result};
use crate::onnx::{Attribute, Constant, DType, Node};
use std::collections::BTreeMap;

const MS_DOMAIN: &str = "com.microsoft";

/// A quantized input or output of a QOperator node: the indices of its tensor, scale and zero
/// point among the node's inputs (the zero point may be optional).
#[derive(Clone, Copy)]
pub(super) struct Quantized {
    pub(super) tensor: usize,
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
pub(super) struct Form {
    float_op: &'static str,
    /// Dequantized inputs of the float op, in order.
    pub(super) inputs: Vec<Quantized>,
    /// An int32 bias at scale `scale(inputs[0]) * scale(inputs[1])`: its input index.
    bias: Option<usize>,
    /// The input indices of the output's scale and zero point. Without a scale (QGemm's
    /// optional y_scale) the output stays float.
    output: [usize; 2],
}

impl Form {
    /// The output's scale and zero point tensor names ("" when absent).
    pub(super) fn output_parameters<'n>(&self, node: &'n Node) -> (&'n str, &'n str) {
        let [scale, zero_point] = self.output;
        (
            Rewriter::input(node, scale),
            Rewriter::input(node, zero_point),
        )
    }
}

/// The form of a QOperator node, or `None` for every other node.
pub(super) fn form(node: &Node) -> Result<Option<Form>> {
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
            if count == 0 || !count.is_multiple_of(3) {
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

impl Rewriter<'_> {
    /// The QDQ nodes for one QOperator node.
    pub(super) fn qoperator(&mut self, node: &Node, form: &Form) -> Result<Vec<Node>> {
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
        let output = node.single_output()?;

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
    pub(super) fn channels_last_pool(
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
        let output = node.single_output()?;
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
    pub(super) fn round_trip(
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
}
