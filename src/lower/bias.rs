//! Bias quantization: the bias of output channel `c` is int32 at the accumulator exponent
//! `ex + ew[c]` (one `ew` for per-tensor weights, one per channel otherwise), and the layer's
//! accumulator is proven wide enough for the real weights and bias.

use super::Weights;
use crate::error::{Error, Result};
use crate::kernel::Clamp;
use crate::onnx::{Constant, Node};
use crate::quant::accumulator::{worst_case, Accumulator};
use crate::quant::float_bias::{self, BiasRounding};
use crate::quant::Rounding;
use std::rc::Rc;

/// A bias as the model gives it.
#[derive(Debug, Clone)]
pub enum Bias {
    /// Float bias (PyTorch exports): added as ONNX Runtime adds it in f32 (see
    /// [`float_bias`]), or rounded half up at the accumulator exponent under `--rounding
    /// half-up`.
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
        self.per_channel(node, exponents.len())?
            .iter()
            .zip(exponents)
            .map(|(&(v, shift), &exponent)| {
                // Float: v * 2^-exponent. Integer at e_b: v * 2^(e_b - exponent), exact when
                // e_b >= exponent (the ESP-PPQ case), otherwise rounded like a float bias.
                let scaled = v * 2f64.powi(shift - exponent);
                fit_i32(node, rounding.round(scaled), v, exponent)
            })
            .collect()
    }

    /// Each channel's value with its own exponent (0 for a float, the tensor's or the
    /// channel's for an integer bias), for `channels` output channels.
    fn per_channel(&self, node: &Node, channels: usize) -> Result<Vec<(f64, i32)>> {
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
        match values.len() {
            n if n == channels => Ok(values),
            1 => Ok(vec![values[0]; channels]),
            n => Err(Error::node(
                node,
                format!("bias has {n} values but the layer has {channels} output channels"),
            )),
        }
    }
}

/// Where a layer's accumulator goes: the output exponent, the fused clamp (its type's range
/// without one) and the pipeline's rounding mode.
#[derive(Debug, Clone, Copy)]
pub struct LayerOutput {
    pub exponent: i32,
    pub clamp: Clamp,
    pub rounding: Rounding,
    /// A user template overrides the layer's built-in kernel. Its `requantize()` helper rounds
    /// half to even, so a float bias keeps the int32 rounding at the accumulator exponent.
    pub user_template: bool,
}

/// The int32 bias of a layer whose weights are one contiguous row per output channel, at the
/// channels' accumulator exponents (zeros without a bias), and the accumulator that provably
/// holds every channel's `|bias| + input_magnitude * sum |w|` (128 for int8 inputs, 32768 for
/// int16).
///
/// A float bias under half-to-even rounding follows ONNX Runtime's f32 arithmetic exactly
/// (see [`float_bias`]): the bias and the accumulator's requantization are those the proof
/// found, and the fractions of the bias below the accumulator grid when that requantization
/// emulates f32's sum (empty otherwise). Under `--rounding half-up` it is rounded half up at
/// the accumulator exponent, like the rest of that pipeline; under a user template it is
/// rounded like an int32 bias.
pub fn checked_bias(
    node: &Node,
    bias: Option<&Bias>,
    weights: &[i8],
    acc_exponents: &[i32],
    input_magnitude: u64,
    output: LayerOutput,
) -> Result<(Vec<i32>, Accumulator, Vec<i32>)> {
    let outputs = acc_exponents.len();
    let per_output = (weights.len() / outputs.max(1)).max(1);
    let rows = || weights.chunks_exact(per_output);
    let (bias, rounding, fractions) = match bias {
        Some(b @ Bias::Float(_))
            if output.rounding == Rounding::HalfEven && !output.user_template =>
        {
            let values = b.per_channel(node, outputs)?;
            let channels: Vec<float_bias::Channel> = values
                .iter()
                .zip(acc_exponents)
                .zip(rows())
                .map(|((&(bias, _), &acc_exponent), row)| float_bias::Channel {
                    bias,
                    acc_exponent,
                    shift: output.exponent - acc_exponent,
                    reach: worst_case(0, row.iter().map(|&w| w as i64), input_magnitude)
                        .min(u64::MAX as u128) as u64,
                })
                .collect();
            let (lo, hi) = output.clamp.dtype.range();
            let (lo, hi) = (output.clamp.lo.max(lo), output.clamp.hi.min(hi));
            let plan = float_bias::plan(node, &channels, lo, hi)?;
            let biases = plan
                .biases
                .iter()
                .zip(&values)
                .zip(acc_exponents)
                .map(|((&b, &(v, _)), &exponent)| fit_i32(node, b as f64, v, exponent))
                .collect::<Result<_>>()?;
            // A fraction is below 2^FRACTION_BITS, so it fits in i32.
            let fractions = plan.fractions.iter().map(|&f| f as i32).collect();
            (biases, plan.rounding, fractions)
        }
        Some(b) => (
            b.at_exponents(node, acc_exponents, output.rounding)?,
            BiasRounding::HalfEven,
            Vec::new(),
        ),
        None => (vec![0; outputs], BiasRounding::HalfEven, Vec::new()),
    };
    let bounds = rows()
        .zip(&bias)
        .map(|(row, &b)| worst_case(b as i64, row.iter().map(|&w| w as i64), input_magnitude));
    let accumulator = Accumulator::for_bounds(node, bounds, true)?;
    let accumulator = match rounding {
        BiasRounding::HalfEven => accumulator,
        // The proof assumed an i32 accumulator and a shift of 1..=31.
        BiasRounding::Floor if !accumulator.wide => accumulator.with_floor_shift(),
        BiasRounding::F32Sum if !accumulator.wide => accumulator.with_f32_sum(),
        BiasRounding::Floor | BiasRounding::F32Sum => {
            return Err(Error::node(
                node,
                format!(
                    "the float bias needs an exact add, which this layer's i64 accumulator (bound {}) does not provide; quantize the bias to int32 at the accumulator scale",
                    accumulator.bound
                ),
            ))
        }
    };
    Ok((bias, accumulator, fractions))
}

/// A bias value `rounded` (from `value` at `exponent`) as i32, or an error naming the node.
fn fit_i32(node: &Node, rounded: f64, value: f64, exponent: i32) -> Result<i32> {
    if rounded.abs() > i32::MAX as f64 {
        Err(Error::node(
            node,
            format!(
                "bias value {value} does not fit in int32 at exponent {exponent} (needs {rounded})"
            ),
        ))
    } else {
        Ok(rounded as i32)
    }
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
                super::describe(other)
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
