//! MatMul of two activations (int8 or int16), `[..., M, K] × [..., K, N]` with the batch dims
//! broadcast: the products are exact at `ea + eb`, summed in i32 (i64 when the inner dimension
//! could overflow it), then requantized.

use super::elementwise::{broadcast_index, broadcast_shape};
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::KernelEmit;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::lower::Lowering;
use crate::lower::Pending;
use crate::onnx::Node;
use crate::quant::accumulator::{worst_case, Accumulator};
use std::rc::Rc;

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let a = lowering.quant_input(node, 0)?;
    let b = lowering.quant_input(node, 1)?;
    let (sa, sb) = (&lowering.tensor(a).shape, &lowering.tensor(b).shape);
    let (Some((&[m, k], batch_a)), Some((&[k_b, n], batch_b))) =
        (split_matrix(sa), split_matrix(sb))
    else {
        return Err(Error::node(
            node,
            format!("input shapes {sa:?} and {sb:?}: both operands need at least 2 dims"),
        ));
    };
    if k != k_b {
        return Err(Error::node(
            node,
            format!("input shapes {sa:?} and {sb:?} disagree on the inner dimension"),
        ));
    }
    // Each product is at most the two types' magnitudes (128 for int8, 32768 for int16).
    let (mag_a, mag_b) = (
        lowering.tensor(a).dtype.magnitude(),
        lowering.tensor(b).dtype.magnitude(),
    );
    let products = std::iter::repeat_n(mag_a as i64, k);
    let accumulator = Accumulator::for_bound(node, worst_case(0, products, mag_b), true)?;
    let batch = broadcast_shape(node, batch_a, batch_b)?;
    let pending = MatMulPending {
        a,
        b,
        index_a: broadcast_index(batch_a, &batch),
        index_b: broadcast_index(batch_b, &batch),
        dims: [m, k, n],
        accumulator,
        shape: batch.iter().copied().chain([m, n]).collect(),
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

/// `([rows, cols], batch dims)` of a shape with at least two dims.
fn split_matrix(shape: &[usize]) -> Option<(&[usize], &[usize])> {
    let batch = shape.len().checked_sub(2)?;
    let (batch_dims, matrix) = shape.split_at(batch);
    Some((matrix, batch_dims))
}

#[derive(Debug)]
struct MatMulPending {
    a: TensorId,
    b: TensorId,
    /// Which matrix of each operand output matrix `i` reads, as Rust expressions in `i`.
    index_a: String,
    index_b: String,
    /// M, K, N
    dims: [usize; 3],
    accumulator: Accumulator,
    shape: Vec<usize>,
}

impl Pending for MatMulPending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let acc_exponent = lowering.tensor(self.a).exponent + lowering.tensor(self.b).exponent;
        let kernel = MatMulKernel {
            index_a: self.index_a.clone(),
            index_b: self.index_b.clone(),
            dims: self.dims,
            accumulator: self.accumulator,
            matrices: self.shape.iter().rev().skip(2).product(),
            shift: output_exponent - acc_exponent,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.a, self.b]))
    }
}

#[derive(Debug)]
struct MatMulKernel {
    index_a: String,
    index_b: String,
    dims: [usize; 3],
    accumulator: Accumulator,
    matrices: usize,
    shift: i32,
    clamp: Clamp,
}

impl Kernel for MatMulKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::MatMul)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let [m, k, n] = self.dims;
        out.set("m", m);
        out.set("k", k);
        out.set("n", n);
        out.set("index_a", &self.index_a);
        out.set("index_b", &self.index_b);
        out.set("shift", self.shift);
        self.accumulator.set(out, self.clamp, &[self.shift]);
        out.describe(format!(
            "{} matrices of {m}x{k} by {k}x{n}, shift {}",
            self.matrices, self.shift
        ));
        Ok(())
    }

    fn macs(&self) -> u64 {
        let [m, k, n] = self.dims;
        (self.matrices * m * k * n) as u64
    }

    /// Operands and output in int8 or int16, summed in i32 or i64 as the bound needs.
    fn supports_int16(&self) -> bool {
        true
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }

    fn accumulator(&self) -> Option<Accumulator> {
        Some(self.accumulator)
    }
}
