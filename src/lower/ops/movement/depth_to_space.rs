//! DepthToSpace (DCR and CRD) and SpaceToDepth on NCHW.

use super::define_move;
use crate::error::{Error, Result};
use crate::lower::Lowering;
use crate::onnx::Node;

/// The input's `[n, c, h, w]` and the block size, which must fit the axes it comes from or goes
/// to.
fn blocks(node: &Node, shape: &[usize]) -> Result<([usize; 4], usize)> {
    let [n, c, h, w] = *shape else {
        return Err(Error::node(
            node,
            format!("input shape {shape:?} is not NCHW"),
        ));
    };
    let blocksize = node.attr_int("blocksize", 0)?;
    // The block must fit the axes it comes from or goes to: that bounds b² too.
    let b = usize::try_from(blocksize)
        .ok()
        .filter(|&b| b >= 1 && b.checked_mul(b).is_some_and(|b2| b2 <= c.max(h * w)))
        .ok_or_else(|| {
            Error::node(
                node,
                format!("blocksize {blocksize} must be at least 1 and its square at most {} (the input's channels or plane)", c.max(h * w)),
            )
        })?;
    Ok(([n, c, h, w], b))
}

pub fn lower_depth_to_space(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = super::moved_input(lowering, node)?;
    let ([n, c, h, w], b) = blocks(node, &shape)?;
    if c % (b * b) != 0 {
        return Err(Error::node(
            node,
            format!("{c} channels are not divisible by blocksize² = {}", b * b),
        ));
    }
    let depth = c / (b * b);
    let crd = match node.attr_string("mode", "DCR")?.as_str() {
        "DCR" => false,
        "CRD" => true,
        other => {
            return Err(Error::node(
                node,
                format!("mode '{other}' is not DCR or CRD"),
            ))
        }
    };
    let source = |o: &[usize]| {
        let (i, j) = (o[2] % b, o[3] % b);
        let channel = if crd {
            o[1] * b * b + i * b + j
        } else {
            (i * b + j) * depth + o[1]
        };
        Some(vec![o[0], channel, o[2] / b, o[3] / b])
    };
    let (out_h, out_w) = (
        crate::lower::size::dim(node, "the output height", h.checked_mul(b))?,
        crate::lower::size::dim(node, "the output width", w.checked_mul(b))?,
    );
    define_move(
        lowering,
        node,
        0,
        input,
        vec![n, depth, out_h, out_w],
        &source,
        None,
    )
}

pub fn lower_space_to_depth(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = super::moved_input(lowering, node)?;
    let ([n, c, h, w], b) = blocks(node, &shape)?;
    if h % b != 0 || w % b != 0 {
        return Err(Error::node(
            node,
            format!("spatial size {h}x{w} is not divisible by blocksize {b}"),
        ));
    }
    let source = |o: &[usize]| {
        let (block, channel) = (o[1] / c, o[1] % c);
        let (i, j) = (block / b, block % b);
        Some(vec![o[0], channel, o[2] * b + i, o[3] * b + j])
    };
    define_move(
        lowering,
        node,
        0,
        input,
        vec![n, c * b * b, h / b, w / b],
        &source,
        None,
    )
}
