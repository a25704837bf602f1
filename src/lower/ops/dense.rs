//! Gemm and MatMul with a constant 2-D weight: a fully connected layer,
//! `acc = b + sum_k x[m][k] * w[n][k]`, requantized with a fused clamp. Gemm's transA is a
//! transposed copy of the input; power-of-two alpha and beta are exponent moves. MatMul of
//! two activations is in `matmul.rs`.

use super::tile::RegisterTile;
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::KernelEmit;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer, Shifts};
use crate::lower::bias::{bias_input, int8_values, Bias};
use crate::lower::Pending;
use crate::lower::{Lowering, Value, Weights};
use crate::onnx::{Constant, Node};
use crate::quant::accumulator::{offset_weights_fit_i32, Accumulator};
use std::rc::Rc;

pub fn lower_gemm(lowering: &mut Lowering, node: &Node) -> Result<()> {
    lower(lowering, node, true)
}

/// MatMul by a constant weight; of two activations, see [`super::matmul`].
pub fn lower_matmul(lowering: &mut Lowering, node: &Node) -> Result<()> {
    if matches!(lowering.value(node, 1)?, Value::Quant(_)) {
        return super::matmul::lower(lowering, node);
    }
    lower(lowering, node, false)
}

/// Gemm when `is_gemm`, else MatMul by a constant weight.
fn lower(lowering: &mut Lowering, node: &Node, is_gemm: bool) -> Result<()> {
    let mut input = lowering.quant_input(node, 0)?;
    let mut weights = lowering.weights(node, 1)?;
    let mut bias = if is_gemm {
        bias_input(lowering, node, 2)?
    } else {
        None
    };
    if is_gemm {
        if node.attr_int("transA", 0)? != 0 {
            if lowering.tensor(input).shape.len() != 2 {
                return Err(Error::node(node, "transA needs a 2-D input"));
            }
            input = super::movement::transpose_now(lowering, node, input, &[1, 0])?;
        }
        // Y = alpha * A·B + beta * C. A power-of-two alpha is exact in ONNX Runtime's f32
        // and here just moves the weights' exponent.
        let alpha = node.attr_float("alpha", 1.0)?;
        let alpha_exponent = power_of_two(node, "alpha", alpha)?;
        weights = Rc::new(weights.scaled(alpha_exponent));
        let beta = node.attr_float("beta", 1.0)?;
        bias = match bias {
            // ONNX Runtime scales a float C by beta in f32.
            Some(Bias::Float(c)) => Some(Bias::Float(Constant {
                values: c.values.iter().map(|&v| (beta * v as f32) as f64).collect(),
                ..c
            })),
            Some(Bias::Quant(q)) => Some(Bias::Quant(Rc::new(
                q.scaled(power_of_two(node, "beta", beta)?),
            ))),
            None => None,
        };
    }
    let trans_b = is_gemm && node.attr_int("transB", 0)? != 0;
    let in_shape = lowering.tensor(input).shape.clone();
    let [rows, cols] = weights.dims[..] else {
        return Err(Error::node(
            node,
            format!(
                "weight '{}' has shape {:?}; only 2-D weights are supported",
                weights.name, weights.dims
            ),
        ));
    };
    let (in_features, out_features) = if trans_b { (cols, rows) } else { (rows, cols) };
    if in_features == 0 || out_features == 0 {
        return Err(Error::node(
            node,
            format!(
                "weight '{}' has a zero size: {:?}",
                weights.name, weights.dims
            ),
        ));
    }
    let Some((&last, leading)) = in_shape.split_last() else {
        return Err(Error::node(node, "input is a scalar"));
    };
    if last != in_features || (is_gemm && in_shape.len() != 2) {
        return Err(Error::node(
            node,
            format!(
                "input shape {in_shape:?} does not match weight shape {:?} (transB = {trans_b})",
                weights.dims
            ),
        ));
    }
    let mut output_shape = leading.to_vec();
    output_shape.push(out_features);
    let pending = DensePending {
        node: node.clone(),
        input,
        weights,
        trans_b,
        bias,
        in_features,
        out_features,
        output_shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

/// `log2 value` for a power of two; any other factor would round in f32.
fn power_of_two(node: &Node, name: &str, value: f32) -> Result<i32> {
    crate::quant::exponent::exact_exponent(value as f64).map_err(|_| {
        Error::node(
            node,
            format!("{name} = {value} is not a power of two, so the scaled product would round"),
        )
    })
}

#[derive(Debug)]
struct DensePending {
    node: Node,
    input: TensorId,
    weights: Rc<Weights>,
    trans_b: bool,
    bias: Option<Bias>,
    in_features: usize,
    out_features: usize,
    output_shape: Vec<usize>,
}

impl Pending for DensePending {
    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let node = &self.node;
        // The output features are weight axis 0 of B^T ([N, K], transB = 1), axis 1 of B
        // ([K, N]).
        let feature_axis = if self.trans_b { 0 } else { 1 };
        let values = int8_values(node, &self.weights)?;
        // Store one contiguous row of weights per output unit.
        let weights: Vec<i8> = if self.trans_b {
            values
        } else {
            (0..self.out_features)
                .flat_map(|n| {
                    let values = &values;
                    (0..self.in_features).map(move |k| values[k * self.out_features + n])
                })
                .collect()
        };
        let (bias, accumulator, shifts) = lowering.requantization(
            node,
            self.input,
            &self.weights,
            (feature_axis, self.out_features),
            &weights,
            self.bias.as_ref(),
            output_exponent,
            clamp,
        )?;
        let kernel = Dense {
            input_magnitude: lowering.tensor(self.input).dtype.magnitude(),
            rows: self.output_shape.iter().rev().skip(1).product(),
            in_features: self.in_features,
            out_features: self.out_features,
            weights,
            bias,
            shifts,
            accumulator,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
pub struct Dense {
    /// The largest `|x|` of the input type.
    input_magnitude: u64,
    rows: usize,
    in_features: usize,
    out_features: usize,
    /// `[out_features][in_features]`
    weights: Vec<i8>,
    bias: Vec<i32>,
    shifts: Shifts,
    accumulator: Accumulator,
    clamp: Clamp,
}

impl Kernel for Dense {
    fn supports_int16(&self) -> bool {
        true
    }

    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Dense)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("rows", self.rows);
        out.set("in_features", self.in_features);
        out.set("out_features", self.out_features);
        let tile = RegisterTile::dense(out.unroll(), self.out_features);
        tile.set(out);
        self.accumulator.set(out, self.clamp, self.shifts.values());
        let offset_weights = out.offset_weights()
            && offset_weights_fit_i32(
                self.accumulator,
                &self.bias,
                self.in_features,
                self.input_magnitude,
            );
        out.set("offset_weights", offset_weights);
        if offset_weights {
            let block = tile.channels();
            out.offset_weight_blocks(&self.weights, self.in_features, block, &self.bias);
        } else {
            out.weights_and_bias(&self.weights, self.in_features, &self.bias);
        }
        self.shifts.set(out);
        out.describe(format!(
            "{} -> {} features, {}",
            self.in_features,
            self.out_features,
            self.shifts.describe()
        ));
        Ok(())
    }

    fn macs(&self) -> u64 {
        (self.rows * self.in_features * self.out_features) as u64
    }

    fn shift(&self) -> Option<i32> {
        self.shifts.uniform()
    }

    fn channel_shifts(&self) -> Option<&Shifts> {
        self.shifts.per_channel()
    }

    fn accumulator(&self) -> Option<Accumulator> {
        Some(self.accumulator)
    }
}
