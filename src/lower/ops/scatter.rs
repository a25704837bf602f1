//! ScatterND with constant indices and reduction "none": the output is the data, with the
//! slices that the indices name overwritten by the updates. The indices are resolved at
//! codegen into one output position per update element, so the kernel is a copy followed by
//! a scatter through that table.
//!
//! ONNX Runtime scatters the dequantized floats and the QuantizeLinear after it rounds each
//! element, so the data and activation updates are requantized from their exponents to the
//! output's (a shift of 0 is a plain copy), and constant updates are quantized at codegen.

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Pending;
use crate::lower::{Lowering, Value};
use crate::onnx::Node;
use std::rc::Rc;

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let reduction = node.attr_string("reduction", "none")?;
    if reduction != "none" {
        return Err(Error::node(
            node,
            format!("reduction '{reduction}' is not supported (only 'none')"),
        ));
    }
    let (data, shape) = crate::lower::nonempty_input(lowering, node)?;
    let indices = lowering
        .constant(node, 1)?
        .ok_or_else(|| Error::node(node, "indices must be a constant"))?
        .clone();
    let positions = slice_starts(node, &shape, &indices.dims, &indices.values)?;
    let k = indices.dims.last().copied().unwrap_or(0);
    let slice_len: usize = shape[k..].iter().product();
    // Every element of every named slice, in the updates' order.
    let positions: Vec<u32> = positions
        .iter()
        .flat_map(|&start| start..start + slice_len)
        .map(|p| p as u32)
        .collect();
    let mut expected_updates = indices.dims[..indices.dims.len() - 1].to_vec();
    expected_updates.extend(&shape[k..]);
    let updates = match lowering.value(node, 2)? {
        Value::Quant(_) | Value::Pending(_) => {
            let updates = lowering.quant_input(node, 2)?;
            Updates::Tensor(updates, lowering.tensor(updates).shape.clone())
        }
        _ => {
            let (values, dims) = crate::lower::real_constant(lowering, node, 2)?;
            Updates::Constant(values, dims)
        }
    };
    if updates.shape() != expected_updates {
        return Err(Error::node(
            node,
            format!(
                "updates have shape {:?}, expected {expected_updates:?} (indices {:?}, data {shape:?})",
                updates.shape(),
                indices.dims
            ),
        ));
    }
    let pending = ScatterPending {
        data,
        updates,
        positions,
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

/// The flat output position where each index tuple's slice starts, in index order. Negative
/// indices count from the end, as ONNX Runtime accepts; out-of-range and repeated tuples are
/// refused (ONNX leaves the result of duplicates undefined).
fn slice_starts(
    node: &Node,
    shape: &[usize],
    dims: &[usize],
    values: &[f64],
) -> Result<Vec<usize>> {
    let k = match dims.last() {
        Some(&k) if (1..=shape.len()).contains(&k) => k,
        _ => {
            return Err(Error::node(
                node,
                format!(
                    "indices of shape {dims:?}: the last axis must name 1..={} data axes",
                    shape.len()
                ),
            ))
        }
    };
    let strides: Vec<usize> = (0..shape.len())
        .map(|a| shape[a + 1..].iter().product())
        .collect();
    let mut starts = Vec::with_capacity(values.len() / k);
    let mut seen = std::collections::HashSet::new();
    for tuple in values.chunks_exact(k) {
        let mut start = 0;
        for (axis, &v) in tuple.iter().enumerate() {
            let dim = shape[axis] as i64;
            let i = v as i64;
            let i = usize::try_from(if i < 0 { i + dim } else { i })
                .ok()
                .filter(|&i| i < shape[axis])
                .ok_or_else(|| {
                    Error::node(
                        node,
                        format!("index {v} is out of range for axis {axis} of size {dim}"),
                    )
                })?;
            start += i * strides[axis];
        }
        if !seen.insert(start) {
            let tuple: Vec<i64> = tuple.iter().map(|&v| v as i64).collect();
            return Err(Error::node(
                node,
                format!("index {tuple:?} is repeated; ONNX leaves the result undefined"),
            ));
        }
        starts.push(start);
    }
    Ok(starts)
}

/// The update values: an activation tensor, or real constants quantized once the output
/// exponent is known.
#[derive(Debug)]
enum Updates {
    Tensor(TensorId, Vec<usize>),
    Constant(Vec<f64>, Vec<usize>),
}

impl Updates {
    fn shape(&self) -> &[usize] {
        match self {
            Updates::Tensor(_, shape) | Updates::Constant(_, shape) => shape,
        }
    }
}

#[derive(Debug)]
struct ScatterPending {
    data: TensorId,
    updates: Updates,
    /// Per update element, the output position it overwrites.
    positions: Vec<u32>,
    shape: Vec<usize>,
}

impl Pending for ScatterPending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let data_shift = output_exponent - lowering.tensor(self.data).exponent;
        let (updates, inputs) = match &self.updates {
            Updates::Tensor(t, _) => (
                UpdateSource::Tensor {
                    shift: output_exponent - lowering.tensor(*t).exponent,
                },
                vec![self.data, *t],
            ),
            Updates::Constant(values, _) => {
                let (lo, hi) = clamp.int8();
                let quantized = values
                    .iter()
                    .map(|&v| {
                        crate::quant::quantize_real(v, output_exponent, lowering.rounding)
                            .clamp(lo, hi)
                    })
                    .collect();
                (UpdateSource::Constant(quantized), vec![self.data])
            }
        };
        let kernel = ScatterKernel {
            out_len: self.shape.iter().product(),
            positions: self.positions.clone(),
            data_shift,
            updates,
            clamp,
        };
        Ok((Box::new(kernel), inputs))
    }
}

#[derive(Debug)]
enum UpdateSource {
    /// The kernel's second input, requantized by `shift`.
    Tensor { shift: i32 },
    /// Values already quantized (and clamped) at the output exponent.
    Constant(Vec<i8>),
}

#[derive(Debug)]
struct ScatterKernel {
    out_len: usize,
    positions: Vec<u32>,
    data_shift: i32,
    updates: UpdateSource,
    clamp: Clamp,
}

impl Kernel for ScatterKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Scatter)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let positions = out.add_static(
            "POSITIONS",
            Elem::index_below(self.out_len),
            &[self.positions.len()],
            self.positions.iter().map(|&p| p as i64).collect(),
        );
        out.set("positions", positions);
        out.set("data_shift", self.data_shift);
        let count = match &self.updates {
            UpdateSource::Tensor { shift } => {
                out.set("updates_shift", shift);
                out.set("updates", KernelEmit::input_name(1, 2));
                2
            }
            UpdateSource::Constant(values) => {
                let values = values.iter().map(|&v| v as i64).collect();
                let name = out.add_static("UPDATES", Elem::I8, &[self.positions.len()], values);
                out.set("constant_updates", name);
                1
            }
        };
        out.set("data", KernelEmit::input_name(0, count));
        self.clamp.set(out);
        out.describe(format!(
            "{} updated elements, data shift {}, {}",
            self.positions.len(),
            self.data_shift,
            match &self.updates {
                UpdateSource::Tensor { shift } => format!("updates shift {shift}"),
                UpdateSource::Constant(_) => "constant updates".to_string(),
            }
        ));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.data_shift)
    }
}
