//! Concat: the inputs are copied side by side along the axis. ONNX Runtime concatenates the
//! dequantized floats and the QuantizeLinear after it rounds each element, so an input at
//! another exponent than the output is requantized (a shift of 0 is a plain copy).

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::KernelEmit;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::lower::Lowering;
use crate::lower::Pending;
use crate::onnx::{normalize_axis, Node};
use serde::Serialize;
use std::rc::Rc;

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let inputs = (0..node.inputs.len())
        .map(|i| lowering.quant_input(node, i))
        .collect::<Result<Vec<_>>>()?;
    let first = lowering.tensor(inputs[0]).shape.clone();
    let axis = normalize_axis(node, node.attr_int("axis", 1)?, first.len())?;
    let mut shape = first.clone();
    shape[axis] = 0;
    for &input in &inputs {
        let s = &lowering.tensor(input).shape;
        if s.contains(&0) {
            return Err(Error::node(node, format!("input shape {s:?} is empty")));
        }
        let compatible = s.len() == first.len()
            && s.iter()
                .zip(&first)
                .enumerate()
                .all(|(a, (x, y))| a == axis || x == y);
        if !compatible {
            return Err(Error::node(
                node,
                format!("input shapes {first:?} and {s:?} differ outside axis {axis}"),
            ));
        }
        shape[axis] += s[axis];
    }
    let pending = ConcatPending {
        inputs,
        rows: first[..axis].iter().product(),
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

#[derive(Debug)]
struct ConcatPending {
    inputs: Vec<TensorId>,
    /// Product of the dims before the axis: how many times the inputs alternate.
    rows: usize,
    shape: Vec<usize>,
}

impl Pending for ConcatPending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let count = self.inputs.len();
        let parts = self
            .inputs
            .iter()
            .enumerate()
            .map(|(index, &t)| {
                let tensor = lowering.tensor(t);
                Part {
                    input: KernelEmit::input_name(index, count),
                    len: tensor.len() / self.rows,
                    shift: output_exponent - tensor.exponent,
                }
            })
            .collect();
        let kernel = ConcatKernel {
            row_len: self.shape.iter().product::<usize>() / self.rows,
            parts,
            clamp,
        };
        Ok((Box::new(kernel), self.inputs.clone()))
    }
}

/// One input's share of every output row.
#[derive(Debug, Clone, Serialize)]
struct Part {
    input: String,
    len: usize,
    shift: i32,
}

#[derive(Debug)]
struct ConcatKernel {
    row_len: usize,
    parts: Vec<Part>,
    clamp: Clamp,
}

impl Kernel for ConcatKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Concat)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("row_len", self.row_len);
        out.set("parts", &self.parts);
        self.clamp.set(out);
        let shifts: Vec<String> = self.parts.iter().map(|p| p.shift.to_string()).collect();
        out.describe(format!(
            "{} inputs, shifts [{}]",
            self.parts.len(),
            shifts.join(", ")
        ));
        Ok(())
    }

    /// Each input (int8 or int16) is requantized to the output's type.
    fn supports_int16(&self) -> bool {
        true
    }
}
