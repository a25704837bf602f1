//! Small helpers every op's lowering shares: reading inputs and constants, binding pending
//! values, and the index arithmetic of broadcasting kernels.

use super::{checked_len, describe, Lowering, Pending, PendingValue, Value};
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::RealBounds;
use crate::onnx::Node;

/// Binds `node`'s output to a pending computation.
pub fn define_pending(
    lowering: &mut Lowering,
    node: &Node,
    compute: std::rc::Rc<dyn Pending>,
) -> Result<()> {
    let output = node.single_output()?;
    // At least one byte per element (int8) in the arena.
    checked_len(lowering, node, compute.output_shape(), 1)?;
    lowering.define(
        output,
        Value::Pending(PendingValue {
            compute,
            bounds: RealBounds::default(),
            node: node.clone(),
            ops: node.op_type.clone(),
        }),
    );
    Ok(())
}

/// Input 0 as an activation, with its shape, which must have at least one axis and no empty one.
pub fn nonempty_input(lowering: &mut Lowering, node: &Node) -> Result<(TensorId, Vec<usize>)> {
    let input = lowering.quant_input(node, 0)?;
    let shape = lowering.tensor(input).shape.clone();
    if shape.is_empty() || shape.contains(&0) {
        return Err(Error::node(
            node,
            format!("input shape {shape:?} is empty or a scalar"),
        ));
    }
    Ok((input, shape))
}

/// Input `index` as real constant values with their dims: a float constant, or a
/// DequantizeLinear of an integer one (`q * 2^e`, exact in f64).
pub fn real_constant(
    lowering: &Lowering,
    node: &Node,
    index: usize,
) -> Result<(Vec<f64>, Vec<usize>)> {
    match lowering.value(node, index)? {
        Value::Const(c) if c.dtype.is_float() => Ok((c.values.clone(), c.dims.clone())),
        Value::QuantConst(q) => {
            let step = 2f64.powi(q.exponent);
            Ok((
                q.values.iter().map(|&v| v as f64 * step).collect(),
                q.dims.clone(),
            ))
        }
        other => Err(Error::node(
            node,
            format!(
                "input '{}' must be a float constant or a DequantizeLinear of one, found {}",
                node.inputs[index],
                describe(other)
            ),
        )),
    }
}

/// `i / div % modulo * mul` for a flat loop index `i`, with the trivial parts left out: one
/// axis of the index arithmetic that broadcasting and reduction kernels write as literals.
/// `/`, `%` and `*` associate left to right, so no parentheses are needed.
pub fn index_term(div: usize, modulo: Option<usize>, mul: usize) -> String {
    let mut term = "i".to_string();
    if div > 1 {
        term = format!("{term} / {div}");
    }
    if let Some(m) = modulo {
        term = format!("{term} % {m}");
    }
    if mul > 1 {
        term = format!("{term} * {mul}");
    }
    term
}
