//! Pad: constant pads; constant, reflect or edge mode.

use super::define_move;
use crate::error::{Error, Result};
use crate::lower::Lowering;
use crate::onnx::{normalize_axis, Node};

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let (input, shape) = super::moved_input(lowering, node)?;
    let shape = &shape[..];
    let rank = shape.len();
    let (pads, value): (Vec<i64>, f64) = if lowering.graph.opset < 11 {
        let pads = node
            .attr_ints("pads")?
            .ok_or_else(|| Error::node(node, "pads is required"))?;
        (pads, node.attr_float("value", 0.0)? as f64)
    } else {
        let pads = lowering
            .constant(node, 1)?
            .ok_or_else(|| Error::node(node, "pads must be a constant"))?
            .values
            .iter()
            .map(|&v| v as i64)
            .collect();
        let value = match lowering.constant(node, 2)? {
            Some(c) => c
                .single()
                .ok_or_else(|| Error::node(node, "constant_value must be a scalar"))?,
            None => 0.0,
        };
        (pads, value)
    };
    // Opset 18's axes input names the padded axes; otherwise pads covers every axis.
    let axes: Vec<usize> = match lowering.constant(node, 3)? {
        Some(c) => c
            .values
            .iter()
            .map(|&a| normalize_axis(node, a as i64, rank))
            .collect::<Result<_>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(Error::node(
            node,
            format!("{} pads for {} axes", pads.len(), axes.len()),
        ));
    }
    let mut begin = vec![0i64; rank];
    let mut end = vec![0i64; rank];
    for (i, &a) in axes.iter().enumerate() {
        begin[a] = pads[i];
        end[a] = pads[i + axes.len()];
    }
    let mode = node.attr_string("mode", "constant")?;
    let out_shape = shape
        .iter()
        .zip(begin.iter().zip(&end))
        .map(|(&d, (&b, &e))| {
            let d = i64::try_from(d).unwrap_or(i64::MAX);
            let sum = d.checked_add(b).and_then(|s| s.checked_add(e));
            match sum {
                None => Err(Error::node(
                    node,
                    format!("pads {pads:?} on shape {shape:?} are too large: the size overflows"),
                )),
                Some(n) if n <= 0 => Err(Error::node(
                    node,
                    format!("pads {pads:?} leave nothing of shape {shape:?}"),
                )),
                Some(n) => {
                    crate::lower::size::dim(node, "the padded shape", usize::try_from(n).ok())
                }
            }
        })
        .collect::<Result<Vec<_>>>()?;
    crate::lower::checked_len(lowering, node, &out_shape, 1)?;
    let reflect_ok = shape
        .iter()
        .zip(begin.iter().zip(&end))
        .all(|(&d, (&b, &e))| b < d as i64 && e < d as i64);
    let pad_value = match mode.as_str() {
        "constant" => Some(value),
        "edge" => None,
        "reflect" if reflect_ok => None,
        "reflect" => {
            return Err(Error::node(
                node,
                "reflect pads must be smaller than the axis",
            ))
        }
        other => {
            return Err(Error::node(
                node,
                format!("mode '{other}' is not supported (constant, reflect, edge)"),
            ))
        }
    };
    let source = |out: &[usize]| {
        out.iter()
            .zip(shape)
            .zip(&begin)
            .map(|((&o, &d), &b)| {
                let (i, d) = ((o as i64).saturating_sub(b), d as i64);
                match mode.as_str() {
                    "edge" => Some(i.clamp(0, d - 1) as usize),
                    "reflect" => Some(if i < 0 {
                        -i
                    } else if i >= d {
                        2 * (d - 1) - i
                    } else {
                        i
                    } as usize),
                    _ => (0..d).contains(&i).then_some(i as usize),
                }
            })
            .collect()
    };
    define_move(lowering, node, 0, input, out_shape, &source, pad_value)
}
