//! ConvInteger and MatMulInteger, in the pattern ONNX Runtime's quantizer writes: a static
//! QuantizeLinear before, Cast to float and Mul by the scale product after.

use super::{float_node, Rewriter};
use crate::error::{Error, Result};
use crate::onnx::{Constant, DType, Node};

impl Rewriter<'_> {
    /// ConvInteger/MatMulInteger in the pattern ONNX Runtime's quantizer writes:
    /// `x = QuantizeLinear(...)` (static) -> integer op -> Cast to float -> Mul by the scale
    /// product (a constant, or a Mul of two constants). It becomes DequantizeLinear of x and of
    /// the weight, and the float op writing the Mul's output. Returns the new nodes and the
    /// indices of the absorbed Cast and Mul nodes.
    pub(super) fn integer_op(&mut self, node: &Node) -> Result<(Vec<Node>, Vec<usize>)> {
        let pattern = "must be the start of the pattern ONNX Runtime writes: a static \
                       QuantizeLinear produces its input, and its int32 output goes only through \
                       Cast to float and then Mul by the constant scale product";
        let is_conv = node.op_type == "ConvInteger";
        let output = node.single_output()?;
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
        let cast_output = self.nodes[cast].single_output()?;
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
        let mul_output = mul_node.single_output()?.to_string();
        nodes.push(float_node(
            node,
            float_op,
            vec![x_float, w_float],
            &mul_output,
            node.attributes.clone(),
        ));
        Ok((nodes, absorbed))
    }
}
