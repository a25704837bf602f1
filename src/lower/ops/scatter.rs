//! ScatterND with constant indices: the output is the data, with the slices that the indices
//! name overwritten by the updates (reduction "none") or combined with them in index order
//! ("add", "mul", "max", "min"). The indices are resolved at codegen into one output position
//! per update element, so the kernel is a copy followed by a scatter through that table.
//!
//! ONNX Runtime scatters the dequantized floats and the QuantizeLinear after it rounds each
//! element. Without a reduction the data and activation updates are requantized from their
//! exponents to the output's (a shift of 0 is a plain copy), and constant updates are quantized
//! at codegen. With one, each updated element is combined exactly in `i32` and requantized
//! once (docs/numerics.md, "ScatterND").

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Pending;
use crate::lower::{Lowering, Value};
use crate::onnx::Node;
use crate::quant::QType;
use std::rc::Rc;

/// How an update combines with the element it names (ONNX's `reduction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduction {
    /// Overwrite; indices may not repeat.
    None,
    Add,
    Mul,
    Max,
    Min,
}

impl Reduction {
    fn parse(node: &Node) -> Result<Reduction> {
        match node.attr_string("reduction", "none")?.as_str() {
            "none" => Ok(Reduction::None),
            "add" => Ok(Reduction::Add),
            "mul" => Ok(Reduction::Mul),
            "max" => Ok(Reduction::Max),
            "min" => Ok(Reduction::Min),
            other => Err(Error::node(
                node,
                format!("reduction '{other}' is not valid (none, add, mul, max or min)"),
            )),
        }
    }

    /// The template's name for it.
    fn name(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::Add => "add",
            Reduction::Mul => "mul",
            Reduction::Max => "max",
            Reduction::Min => "min",
        }
    }
}

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let reduction = Reduction::parse(node)?;
    let (data, shape) = crate::lower::nonempty_input(lowering, node)?;
    let indices = lowering
        .constant(node, 1)?
        .ok_or_else(|| Error::node(node, "indices must be a constant"))?
        .clone();
    let positions = slice_starts(
        node,
        &shape,
        &indices.dims,
        &indices.values,
        reduction != Reduction::None,
    )?;
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
        node: node.clone(),
        reduction,
        data,
        updates,
        positions,
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

/// The flat output position where each index tuple's slice starts, in index order. Negative
/// indices count from the end, as ONNX Runtime accepts; out-of-range tuples are refused, and
/// so are repeated ones unless `repeats` (a reduction: without one, ONNX leaves the result of
/// duplicates undefined).
fn slice_starts(
    node: &Node,
    shape: &[usize],
    dims: &[usize],
    values: &[f64],
    repeats: bool,
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
        if !seen.insert(start) && !repeats {
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
    node: Node,
    reduction: Reduction,
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
        if self.reduction != Reduction::None {
            return self.finish_reduction(lowering, output_exponent, clamp);
        }
        let data_shift = output_exponent - lowering.tensor(self.data).exponent;
        let (updates, inputs) = match &self.updates {
            Updates::Tensor(t, _) => (
                UpdateSource::Tensor {
                    shift: output_exponent - lowering.tensor(*t).exponent,
                },
                vec![self.data, *t],
            ),
            Updates::Constant(values, _) => {
                let quantized = values
                    .iter()
                    .map(|&v| {
                        crate::quant::quantize_real_to(
                            v,
                            output_exponent,
                            clamp.dtype,
                            lowering.rounding,
                        )
                        .clamp(clamp.lo, clamp.hi)
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

impl ScatterPending {
    /// A reduction: each updated element combines the data with its updates in index order,
    /// exactly in `i32` (the bounds below), then requantizes once.
    fn finish_reduction(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let node = &self.node;
        let data_exponent = lowering.tensor(self.data).exponent;
        let (updates, update_exponent, inputs) = match &self.updates {
            Updates::Tensor(t, _) => (
                UpdateSource::Tensor { shift: 0 },
                lowering.tensor(*t).exponent,
                vec![self.data, *t],
            ),
            Updates::Constant(values, _) => {
                let (exponent, values) = exact_int8(values).ok_or_else(|| {
                    Error::node(
                        node,
                        "constant updates of a reduction must be exact int8 values at one power-of-two scale",
                    )
                })?;
                (
                    UpdateSource::Constant(values.into_iter().map(i64::from).collect()),
                    exponent,
                    vec![self.data],
                )
            }
        };
        // The updates of each updated element, in index order.
        let mut by_position: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for (update, &position) in self.positions.iter().enumerate() {
            by_position.entry(position).or_default().push(update as u32);
        }
        let most = by_position.values().map(Vec::len).max().unwrap_or(0);
        // The largest magnitudes of the data and the updates (int8 or int16).
        let magnitude = |t: TensorId| -lowering.tensor(t).dtype.range().0;
        let data_magnitude = magnitude(self.data);
        let update_magnitude = match &self.updates {
            Updates::Tensor(t, _) => magnitude(*t),
            Updates::Constant(..) => 128,
        };
        // f32 holds every integer up to 2^24 exactly, and so does i32.
        const EXACT: i64 = 1 << 24;
        let (data_up, update_up, shift) = match self.reduction {
            Reduction::Mul => {
                // d * u1 * ... * un: exact in f32 (and i32) up to 2^24.
                let largest = (0..most).try_fold(data_magnitude, |product, _| {
                    Some(product * update_magnitude).filter(|&p| p <= EXACT)
                });
                if largest.is_none() {
                    return Err(Error::node(
                        node,
                        format!(
                            "reduction 'mul' with {most} updates of one element: a product of {} values of magnitude up to {data_magnitude} and {update_magnitude} can round in f32, which onnx2esp does not emulate",
                            most + 1
                        ),
                    ));
                }
                (0, 0, output_exponent - data_exponent)
            }
            _ => {
                // Both at the finer exponent; every partial sum stays below 2^24 units, where
                // f32 is exact.
                let common = data_exponent.min(update_exponent);
                let (data_up, update_up) = (data_exponent - common, update_exponent - common);
                let shifted = |magnitude: i64, up: i32| magnitude << up.min(40);
                let largest = shifted(data_magnitude, data_up)
                    + most as i64 * shifted(update_magnitude, update_up);
                if largest > EXACT {
                    return Err(Error::node(
                        node,
                        format!(
                            "reduction '{}': {most} updates of one element at exponents {data_exponent} (data) and {update_exponent} (updates) can exceed f32's exact integers",
                            self.reduction.name()
                        ),
                    ));
                }
                (data_up, update_up, output_exponent - common)
            }
        };
        let kernel = ScatterReduceKernel {
            reduction: self.reduction,
            out_len: self.shape.iter().product(),
            updates_len: self.positions.len(),
            touched: by_position.keys().copied().collect(),
            first: std::iter::once(0)
                .chain(by_position.values().scan(0, |end, updates| {
                    *end += updates.len() as u32;
                    Some(*end)
                }))
                .collect(),
            order: by_position.into_values().flatten().collect(),
            data_shift: output_exponent - data_exponent,
            data_up,
            update_up,
            update_exponent,
            shift,
            updates,
            clamp,
        };
        Ok((Box::new(kernel), inputs))
    }
}

/// `values` as int8 at the largest exponent where they are all integers, if they fit.
fn exact_int8(values: &[f64]) -> Option<(i32, Vec<i8>)> {
    (-64..=64).rev().find_map(|exponent: i32| {
        let scaled: Vec<f64> = values.iter().map(|v| v * 2f64.powi(-exponent)).collect();
        scaled
            .iter()
            .all(|q| q.fract() == 0.0 && (-128.0..=127.0).contains(q))
            .then(|| (exponent, scaled.iter().map(|&q| q as i8).collect()))
    })
}

#[derive(Debug)]
enum UpdateSource {
    /// The kernel's second input, requantized by `shift`.
    Tensor { shift: i32 },
    /// Values already quantized (and clamped) at the output exponent; for a reduction, int8
    /// values at the updates' exponent.
    Constant(Vec<i64>),
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
    fn supports_int16(&self) -> bool {
        true
    }

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
                // int16 values in an i32 static (there is no i16 one).
                let elem = if out.output_type() == QType::I8 {
                    Elem::I8
                } else {
                    Elem::I32
                };
                let name = out.add_static("UPDATES", elem, &[self.positions.len()], values.clone());
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

/// ScatterND with a reduction: the data requantized, then each updated element (`touched`,
/// its updates `order[first[i]..first[i + 1]]`) combined and requantized once.
#[derive(Debug)]
struct ScatterReduceKernel {
    reduction: Reduction,
    out_len: usize,
    updates_len: usize,
    touched: Vec<u32>,
    first: Vec<u32>,
    order: Vec<u32>,
    /// The requantization of the elements no update names.
    data_shift: i32,
    /// Left shifts of the data and the updates to their common exponent (add, max, min).
    data_up: i32,
    update_up: i32,
    update_exponent: i32,
    /// The requantization of an updated element; for mul, that of one with no update, less
    /// `update_exponent` per update.
    shift: i32,
    updates: UpdateSource,
    clamp: Clamp,
}

impl Kernel for ScatterReduceKernel {
    fn supports_int16(&self) -> bool {
        true
    }

    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Scatter)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let index_static = |out: &mut KernelEmit, name: &str, values: &[u32], below: usize| {
            out.add_static(
                name,
                Elem::index_below(below),
                &[values.len()],
                values.iter().map(|&v| v as i64).collect(),
            )
        };
        let touched = index_static(out, "TOUCHED", &self.touched, self.out_len);
        let first = index_static(out, "FIRST", &self.first, self.order.len() + 1);
        let order = index_static(out, "ORDER", &self.order, self.updates_len);
        out.set("reduction", self.reduction.name());
        out.set("touched", touched);
        out.set("first", first);
        out.set("order", order);
        out.set("data_shift", self.data_shift);
        out.set("data_up", self.data_up);
        out.set("update_up", self.update_up);
        out.set("update_exponent", self.update_exponent);
        out.set("reduce_shift", self.shift);
        let count = match &self.updates {
            UpdateSource::Tensor { .. } => {
                out.set("updates", KernelEmit::input_name(1, 2));
                2
            }
            UpdateSource::Constant(values) => {
                let name = out.add_static("UPDATES", Elem::I8, &[self.updates_len], values.clone());
                out.set("updates", format!("{name}.0"));
                1
            }
        };
        out.set("data", KernelEmit::input_name(0, count));
        self.clamp.set(out);
        out.describe(format!(
            "reduction {}, {} updates of {} elements, data shift {}",
            self.reduction.name(),
            self.updates_len,
            self.touched.len(),
            self.data_shift
        ));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.data_shift)
    }
}
