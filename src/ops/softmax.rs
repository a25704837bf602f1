//! Softmax over one axis of an int8 tensor, in integers. With `x = q * 2^ex`,
//! `exp(x_i - max) = exp(-(q_max - q_i) * 2^ex)` takes only 256 values, so a table of them in
//! fixed point (2^24 = 1.0) is built at codegen; then `y_i = T_i / sum_j T_j` is rounded to the
//! output exponent by one exact integer division.
//!
//! ONNX Runtime evaluates exp in f32 with its own approximation, and our table entries carry a
//! relative error of 2^-25, so an output can differ by one step near a rounding boundary, as for
//! the table ops.

use super::{Clamp, Kernel, Pending};
use crate::emit::{Elem, KernelEmit};
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::onnx::{normalize_axis, Node};
use crate::quant::Lowering;
use std::rc::Rc;

/// Fixed-point scale of the exp table: `T[k] = round(exp(-k * 2^ex) * 2^ONE_BITS)`.
const ONE_BITS: i32 = 24;

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let input = lowering.quant_input(node, 0)?;
    let shape = lowering.tensor(input).shape.clone();
    if shape.is_empty() || shape.contains(&0) {
        return Err(Error::node(
            node,
            format!("input shape {shape:?} is empty or a scalar"),
        ));
    }
    // From opset 13 Softmax normalises one axis (default -1); before, everything from the
    // axis on (default 1), as one flattened axis.
    let (default_axis, one_axis) = if lowering.graph.opset >= 13 {
        (-1, true)
    } else {
        (1, false)
    };
    let axis = normalize_axis(node, node.attr_int("axis", default_axis)?, shape.len())?;
    let (length, inner) = if one_axis {
        (shape[axis], shape[axis + 1..].iter().product())
    } else {
        (shape[axis..].iter().product(), 1)
    };
    let pending = SoftmaxPending {
        node: node.clone(),
        input,
        length,
        inner,
        shape,
    };
    super::define_pending(lowering, node, Rc::new(pending))
}

#[derive(Debug)]
struct SoftmaxPending {
    node: Node,
    input: TensorId,
    /// Elements normalised together, `inner` apart.
    length: usize,
    inner: usize,
    shape: Vec<usize>,
}

impl Pending for SoftmaxPending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        // The numerator T_i * 2^-ey must fit in i64 (T_i <= 2^24), and the sum of `length`
        // entries too.
        if !(-38..=0).contains(&output_exponent) || self.length > 1 << 30 {
            return Err(Error::node(
                &self.node,
                format!(
                    "output exponent {output_exponent} outside -38..=0, or {} elements per softmax",
                    self.length
                ),
            ));
        }
        let step = 2f64.powi(lowering.tensor(self.input).exponent);
        let exp_table = (0..256)
            .map(|k| ((-(k as f64) * step).exp() * 2f64.powi(ONE_BITS)).round() as i64)
            .collect();
        let kernel = SoftmaxKernel {
            exp_table,
            length: self.length,
            inner: self.inner,
            shift: -output_exponent,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct SoftmaxKernel {
    exp_table: Vec<i64>,
    length: usize,
    inner: usize,
    /// `-ey`: the numerator's left shift.
    shift: i32,
    clamp: Clamp,
}

impl Kernel for SoftmaxKernel {
    fn template(&self) -> &'static str {
        "softmax.rs.tera"
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let table = out.add_static("EXP", Elem::U32, &[256], self.exp_table.clone());
        out.set("exp_table", table);
        out.set("length", self.length);
        out.set("inner", self.inner);
        out.set("shift", self.shift);
        self.clamp.set(out);
        out.describe(format!(
            "softmax of {} elements {} apart, exp table in Q{ONE_BITS}",
            self.length, self.inner
        ));
        Ok(())
    }
}
