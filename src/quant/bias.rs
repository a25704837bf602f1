//! Bias quantization: the bias of output channel `c` is int32 at the accumulator exponent
//! `ex + ew[c]` (one `ew` for per-tensor weights, one per channel otherwise), and the layer's
//! accumulator is proven wide enough for the real weights and bias.

use super::accumulator::{worst_case, Accumulator};
use super::{Rounding, Weights};
use crate::error::{Error, Result};
use crate::onnx::{Constant, Node};
use std::rc::Rc;

/// A bias as the model gives it.
#[derive(Debug, Clone)]
pub enum Bias {
    /// Float bias (PyTorch QAT exports): rounded at the accumulator exponent (half to even by
    /// default, as DESIGN.md; the pipeline's rounding mode).
    Float(Constant),
    /// int32 DequantizeLinear bias (ESP-PPQ), per tensor or per channel: shifted exactly to
    /// the accumulator exponent.
    Quant(Rc<Weights>),
}

impl Bias {
    /// The bias of output channel `c` as int32 at `exponents[c]`, for `exponents.len()` channels.
    pub fn at_exponents(
        &self,
        node: &Node,
        exponents: &[i32],
        rounding: Rounding,
    ) -> Result<Vec<i32>> {
        let channels = exponents.len();
        // Each value with its own exponent: 0 for a float, the tensor's or its channel's for
        // an integer bias.
        let values: Vec<(f64, i32)> = match self {
            Bias::Float(c) => c.values.iter().map(|&v| (v, 0)).collect(),
            Bias::Quant(q) if q.exponents.len() == 1 || q.exponents.len() == q.values.len() => q
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| (v as f64, q.exponents[i % q.exponents.len()]))
                .collect(),
            Bias::Quant(q) => {
                return Err(Error::node(
                    node,
                    format!(
                        "bias '{}' of shape {:?} is quantized per channel along axis {:?}; a per-channel bias must be 1-D",
                        q.name, q.dims, q.axis
                    ),
                ))
            }
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
            .zip(exponents)
            .map(|(&(v, shift), &exponent)| {
                // Float: v * 2^-exponent. Integer at e_b: v * 2^(e_b - exponent), exact when
                // e_b >= exponent (the ESP-PPQ case), otherwise rounded like a float bias.
                let scaled = v * 2f64.powi(shift - exponent);
                let rounded = rounding.round(scaled);
                if !rounded.is_finite() {
                    Err(Error::node(node, format!("bias value {v} is not a finite number")))
                } else if rounded.abs() > i32::MAX as f64 {
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

/// The int32 bias of a layer whose weights are one contiguous row per output channel, at the
/// channels' accumulator exponents (zeros without a bias), and the accumulator that provably
/// holds every channel's `|bias| + input_magnitude * sum |w|` (128 for int8 inputs, 32768 for
/// int16).
pub fn checked_bias(
    node: &Node,
    bias: Option<&Bias>,
    weights: &[i8],
    acc_exponents: &[i32],
    input_magnitude: u64,
    rounding: Rounding,
) -> Result<(Vec<i32>, Accumulator)> {
    let outputs = acc_exponents.len();
    let bias = match bias {
        Some(b) => b.at_exponents(node, acc_exponents, rounding)?,
        None => vec![0; outputs],
    };
    let per_output = (weights.len() / outputs.max(1)).max(1);
    let bounds = weights
        .chunks_exact(per_output)
        .zip(&bias)
        .map(|(row, &b)| worst_case(b as i64, row.iter().map(|&w| w as i64), input_magnitude));
    let accumulator = Accumulator::for_bounds(node, bounds, true)?;
    Ok((bias, accumulator))
}

/// Converts int8 weight values, naming the tensor if one is out of range.
pub fn int8_values(node: &Node, weights: &Weights) -> Result<Vec<i8>> {
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
        super::Value::QuantConst(q) => Ok(Some(Bias::Quant(Rc::new(Weights::per_tensor(q))))),
        super::Value::ChannelConst(q) => Ok(Some(Bias::Quant(q.clone()))),
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
        let even = bias
            .at_exponents(&node, &[-1; 4], Rounding::HalfEven)
            .unwrap();
        let up = bias
            .at_exponents(&node, &[-1; 4], Rounding::HalfUp)
            .unwrap();
        assert_eq!(even, [2, -2, 2, 1]);
        assert_eq!(up, [2, -1, 3, 1]);
    }
}
