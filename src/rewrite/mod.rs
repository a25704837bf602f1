//! The graph rewrites that run before lowering, each a [`Graph`] to [`Graph`] pass:
//!
//! 1. [`fold`]: `Constant` nodes, constant `Identity`, `QuantizeLinear` of float initializers
//!    and `Clip` of the integer constants they give; then the quantization parameters are
//!    checked.
//! 2. [`qoperator`]: the QOperator format (QLinearConv, com.microsoft QLinearAdd, ...,
//!    ConvInteger) expanded into the QDQ subgraphs it stands for.
//! 3. [`edges`]: layout ops at the float edges moved inside the quantized core.
//! 4. [`scales`]: the scale policy, which leaves every scale a power of two (or refuses).
//!
//! After them the lowering meets only QDQ with exact exponents.

pub mod edges;
pub mod fold;
pub mod qoperator;
pub mod scales;

use crate::error::Result;
use crate::onnx::Graph;

/// Rewrites 1 to 3: the graph as the lowering reads it, before the scale policy.
pub fn normalize(mut graph: Graph) -> Result<Graph> {
    fold::fold_constants(&mut graph)?;
    fold::check_quantization_parameters(&graph)?;
    // After folding, so that QuantizeLinear of float weights are integer constants.
    qoperator::rewrite(&mut graph)?;
    // After the QOperator expansion, so that its QuantizeLinear/DequantizeLinear pairs are in
    // place.
    edges::commute_layout_ops(&mut graph);
    Ok(graph)
}
