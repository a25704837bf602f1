//! Ops that move elements, one file each: Transpose, Slice, Split, Pad, Gather (constant
//! indices), DepthToSpace and SpaceToDepth, ReverseSequence (constant lengths); Resize nearest
//! (in resize.rs) too. Each is an index table computed at codegen, `y[i] = x[MAP[i]]`, with one kernel for all of them. An index past the
//! input is padding.
//!
//! ONNX Runtime moves the dequantized floats and the QuantizeLinear after the op rounds them,
//! so the op waits for that exponent: elements are requantized by `ey - ex` (a plain copy when
//! equal) and Pad's constant is quantized directly at `ey`.

pub mod depth_to_space;
pub mod gather;
pub mod pad;
pub mod reverse_sequence;
pub mod slice;
pub mod split;
pub mod transpose;

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Elem, Kernel, KernelEmit, RealBounds, Renderer};
use crate::lower::{Lowering, Pending, PendingValue, Value};
use crate::onnx::Node;
use std::rc::Rc;

/// Where output coordinates read from: input coordinates, or `None` for padding.
pub(super) type Source<'a> = dyn Fn(&[usize]) -> Option<Vec<usize>> + 'a;

/// Input 0 of a movement op and its shape, which must have no empty axis.
fn moved_input(lowering: &mut Lowering, node: &Node) -> Result<(TensorId, Vec<usize>)> {
    let input = lowering.quant_input(node, 0)?;
    let shape = lowering.tensor(input).shape.clone();
    if shape.contains(&0) {
        return Err(Error::node(node, format!("input shape {shape:?} is empty")));
    }
    Ok((input, shape))
}

/// Binds output `index` of `node` to a pending move of `input` with the given source map.
pub(super) fn define_move(
    lowering: &mut Lowering,
    node: &Node,
    index: usize,
    input: TensorId,
    out_shape: Vec<usize>,
    source: &Source,
    pad_value: Option<f64>,
) -> Result<()> {
    let output = node
        .outputs
        .get(index)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| Error::node(node, format!("output {index} is missing")))?;
    let in_shape = lowering.tensor(input).shape.clone();
    let in_len: usize = in_shape.iter().product();
    let map = index_map(lowering, node, &in_shape, &out_shape, source)?;
    let pending = MovePending {
        input,
        map,
        in_len,
        pad_value,
        shape: out_shape,
    };
    lowering.define(
        output,
        Value::Pending(PendingValue {
            compute: Rc::new(pending),
            bounds: RealBounds::default(),
            node: node.clone(),
            ops: node.op_type.clone(),
        }),
    );
    Ok(())
}

/// The input index of every output element, in output order; `in_len` marks padding. The
/// output and its table are checked against the budgets before the table is built.
fn index_map(
    lowering: &Lowering,
    node: &Node,
    in_shape: &[usize],
    out_shape: &[usize],
    source: &Source,
) -> Result<Vec<u32>> {
    let in_len: usize = in_shape.iter().product();
    if in_len >= u32::MAX as usize {
        return Err(Error::node(
            node,
            "the input is too large for an index table",
        ));
    }
    let out_len = crate::lower::checked_len(lowering, node, out_shape, 1)?;
    crate::lower::checked_table(
        lowering,
        node,
        "index table",
        out_len,
        Elem::index_below(in_len).bytes(),
    )?;
    let mut map = Vec::with_capacity(out_len);
    let mut coords = vec![0; out_shape.len()];
    loop {
        let flat = source(&coords).map_or(in_len, |c| {
            c.iter().zip(in_shape).fold(0, |acc, (&i, &d)| acc * d + i)
        });
        map.push(flat as u32);
        // Next output coordinate, last axis fastest.
        let Some(axis) = (0..coords.len())
            .rev()
            .find(|&a| coords[a] + 1 < out_shape[a])
        else {
            break;
        };
        coords[axis] += 1;
        coords[axis + 1..].iter_mut().for_each(|c| *c = 0);
    }
    Ok(map)
}

/// Emits a transposed copy of `input` at once, at the same exponent (for ops that read an
/// operand transposed, like Gemm's transA), and returns it.
pub fn transpose_now(
    lowering: &mut Lowering,
    node: &Node,
    input: TensorId,
    perm: &[usize],
) -> Result<TensorId> {
    let tensor = lowering.tensor(input).clone();
    let out_shape: Vec<usize> = perm.iter().map(|&a| tensor.shape[a]).collect();
    let map = index_map(
        lowering,
        node,
        &tensor.shape,
        &out_shape,
        &transpose::transposed(perm),
    )?;
    let kernel = MoveKernel {
        map,
        in_len: tensor.len(),
        shift: 0,
        pad: 0,
        clamp: Clamp::none(tensor.dtype),
    };
    let name = format!("{}_transposed", tensor.name);
    let output = lowering.new_typed_tensor(&name, out_shape, tensor.exponent, None, tensor.dtype);
    lowering.push_layer(node, "Transpose", vec![input], output, Box::new(kernel));
    Ok(output)
}

#[derive(Debug)]
struct MovePending {
    input: TensorId,
    /// Per output element, its input index; `in_len` means padding.
    map: Vec<u32>,
    in_len: usize,
    pad_value: Option<f64>,
    shape: Vec<usize>,
}

impl Pending for MovePending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    /// A move without padding only copies elements: an op that needs an activation before any
    /// QuantizeLinear (PyTorch's recurrent layers read their input through a Transpose) gets it
    /// at the input's exponent, exactly.
    fn exact_source(&self) -> Option<TensorId> {
        self.pad_value.is_none().then_some(self.input)
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        // Pad's constant is quantized in the output's type (int8 or int16).
        let pad = self.pad_value.map_or(0, |v| {
            crate::quant::quantize_real_to(v, output_exponent, clamp.dtype, lowering.rounding)
        });
        let kernel = MoveKernel {
            map: self.map.clone(),
            in_len: self.in_len,
            shift: output_exponent - lowering.tensor(self.input).exponent,
            pad: pad.max(clamp.lo).min(clamp.hi),
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct MoveKernel {
    map: Vec<u32>,
    in_len: usize,
    shift: i32,
    pad: i64,
    clamp: Clamp,
}

impl Kernel for MoveKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Move)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let elem = Elem::index_below(self.in_len);
        let map = out.add_static(
            "SOURCE",
            elem,
            &[self.map.len()],
            self.map.iter().map(|&i| i as i64).collect(),
        );
        out.set("map", map);
        out.set("shift", self.shift);
        out.set("pad", self.pad);
        self.clamp.set(out);
        out.describe(format!(
            "index table, shift {}, padding {}",
            self.shift, self.pad
        ));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }

    /// A copy, or a requantization to the output's type.
    fn supports_int16(&self) -> bool {
        true
    }
}
