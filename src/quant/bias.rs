//! Bias quantization and the accumulator bound of DESIGN.md: the bias is int32 at
//! `ex + ew`, and `|acc|` must provably fit in i32.

use super::{QuantConst, Rounding};
use crate::error::{Error, Result};
use crate::onnx::{Constant, Node};
use std::rc::Rc;

/// A bias as the model gives it.
#[derive(Debug, Clone)]
pub enum Bias {
    /// Float bias (PyTorch QAT exports): rounded at the accumulator exponent (half to even by
    /// default, as DESIGN.md; the pipeline's rounding mode).
    Float(Constant),
    /// int32 DequantizeLinear bias (ESP-PPQ): shifted exactly to the accumulator exponent.
    Quant(Rc<QuantConst>),
}

impl Bias {
    /// The bias of `channels` outputs as int32 at `exponent`.
    pub fn at_exponent(
        &self,
        node: &Node,
        channels: usize,
        exponent: i32,
        rounding: Rounding,
    ) -> Result<Vec<i32>> {
        let (values, shift): (Vec<f64>, i32) = match self {
            Bias::Float(c) => (c.values.clone(), 0),
            Bias::Quant(q) => (q.values.iter().map(|&v| v as f64).collect(), q.exponent),
        };
        let values = match values.len() {
            n if n == channels => values,
            1 => vec![values[0]; channels],
            n => {
                return Err(Error::node(
                    node,
                    format!("bias has {n} values but the layer has {channels} output channels"),
                ))
            }
        };
        values
            .iter()
            .map(|&v| {
                // Float: v * 2^-exponent. Integer at e_b: v * 2^(e_b - exponent), exact when
                // e_b >= exponent (the ESP-PPQ case), otherwise rounded like a float bias.
                let scaled = v * 2f64.powi(shift - exponent);
                let rounded = rounding.round(scaled);
                if rounded.abs() > i32::MAX as f64 {
                    Err(Error::node(
                        node,
                        format!(
                            "bias value {v} does not fit in int32 at exponent {exponent} (needs {rounded})"
                        ),
                    ))
                } else {
                    Ok(rounded as i32)
                }
            })
            .collect()
    }
}

/// The worst-case `|acc|` over all int8 inputs for one output: `|b| + 128 * sum |w|`.
pub fn accumulator_bound(weights: &[i8], bias: i32) -> i64 {
    bias.unsigned_abs() as i64 + 128 * weights.iter().map(|&w| (w as i64).abs()).sum::<i64>()
}

/// Fails when some output's accumulator could overflow i32, naming the channel.
fn check_accumulators<'a>(
    node: &Node,
    channels: impl Iterator<Item = (&'a [i8], i32)>,
) -> Result<i64> {
    let mut worst = 0;
    for (channel, (weights, bias)) in channels.enumerate() {
        let bound = accumulator_bound(weights, bias);
        if bound > i32::MAX as i64 {
            return Err(Error::node(
                node,
                format!(
                    "output channel {channel}: the accumulator can reach {bound}, which overflows i32"
                ),
            ));
        }
        worst = worst.max(bound);
    }
    Ok(worst)
}

/// The int32 bias of a layer whose weights are one contiguous row per output, at the
/// accumulator exponent (zeros without a bias), once it is proven that no output's
/// accumulator can overflow i32.
pub fn checked_bias(
    node: &Node,
    bias: Option<&Bias>,
    weights: &[i8],
    outputs: usize,
    acc_exponent: i32,
    rounding: Rounding,
) -> Result<Vec<i32>> {
    let bias = match bias {
        Some(b) => b.at_exponent(node, outputs, acc_exponent, rounding)?,
        None => vec![0; outputs],
    };
    let per_output = (weights.len() / outputs.max(1)).max(1);
    check_accumulators(
        node,
        weights.chunks_exact(per_output).zip(bias.iter().copied()),
    )?;
    Ok(bias)
}

/// Converts int8 weight values, naming the tensor if one is out of range.
pub fn int8_values(node: &Node, weights: &QuantConst) -> Result<Vec<i8>> {
    weights
        .values
        .iter()
        .map(|&v| {
            i8::try_from(v).map_err(|_| {
                Error::node(
                    node,
                    format!("weight '{}' holds {v}, outside int8", weights.name),
                )
            })
        })
        .collect()
}

/// Input `index` of `node` as a bias, if present.
pub fn bias_input(lowering: &super::Lowering, node: &Node, index: usize) -> Result<Option<Bias>> {
    if !lowering.has_input(node, index) {
        return Ok(None);
    }
    match lowering.value(node, index)? {
        super::Value::Const(c) if c.dtype.is_float() => Ok(Some(Bias::Float(c.clone()))),
        super::Value::QuantConst(q) => Ok(Some(Bias::Quant(q.clone()))),
        other => Err(Error::node(
            node,
            format!(
                "bias '{}' must be a float initializer or a DequantizeLinear of int32, found {}",
                node.inputs[index],
                super::lower::describe(other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::DType;

    #[test]
    fn float_bias_ties_follow_the_rounding_mode() {
        let node = Node {
            name: "fc".into(),
            op_type: "Gemm".into(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec![],
            attributes: Default::default(),
        };
        // At exponent -1: 0.75 -> 1.5, -0.75 -> -1.5, 1.25 -> 2.5, 0.3 -> 0.6.
        let bias = Bias::Float(Constant {
            dtype: DType::F32,
            dims: vec![4],
            values: vec![0.75, -0.75, 1.25, 0.3],
        });
        let even = bias.at_exponent(&node, 4, -1, Rounding::HalfEven).unwrap();
        let up = bias.at_exponent(&node, 4, -1, Rounding::HalfUp).unwrap();
        assert_eq!(even, [2, -2, 2, 1]);
        assert_eq!(up, [2, -1, 3, 1]);
    }
}
