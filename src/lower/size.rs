//! Size checks at the moment a shape is known: every op's shape rule computes its output
//! shape with checked arithmetic ([`dim`]) and passes it through [`checked_len`] before it
//! builds a table, a weight or a line of code, so that a hostile attribute is an error naming
//! the node rather than a wrapped size, a panic or an allocation of gigabytes.

use crate::error::{Error, Result};
use crate::lower::Lowering;
use crate::onnx::{Node, MAX_ELEMENTS};

/// A dimension computed with checked arithmetic: `None` (an overflow, or a negative size from
/// an i64 attribute) becomes an error naming the node and what was being computed.
pub fn dim(node: &Node, what: &str, value: Option<usize>) -> Result<usize> {
    value.ok_or_else(|| {
        Error::node(
            node,
            format!("{what} is too large: its size overflows the arithmetic"),
        )
    })
}

/// `a + b + c` of i64 attribute values and a dimension, as a dimension: `None` when negative
/// or beyond `usize`.
pub fn sum_i64(parts: &[i64]) -> Option<usize> {
    let sum = parts.iter().try_fold(0i64, |acc, &p| acc.checked_add(p))?;
    usize::try_from(sum).ok()
}

/// The number of elements of an output of shape `shape` with `elem_bytes` bytes per element,
/// checked against [`MAX_ELEMENTS`] and the RAM budget (an activation lives in the arena).
pub fn checked_len(
    lowering: &Lowering,
    node: &Node,
    shape: &[usize],
    elem_bytes: usize,
) -> Result<usize> {
    let len = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            Error::node(
                node,
                format!("output shape {shape:?} is too large: more than {MAX_ELEMENTS} elements"),
            )
        })?;
    let bytes = len.saturating_mul(elem_bytes);
    let max_ram = lowering.budget.max_ram;
    if bytes > max_ram {
        return Err(Error::node(
            node,
            format!(
                "output shape {shape:?} takes {bytes} bytes, over the RAM budget of {max_ram}; raise it with --max-ram if the target has more"
            ),
        ));
    }
    Ok(len)
}

/// A table or weight array of `len` elements of `elem_bytes` each, checked against the flash
/// budget before it is built.
pub fn checked_table(
    lowering: &Lowering,
    node: &Node,
    what: &str,
    len: usize,
    elem_bytes: usize,
) -> Result<()> {
    let bytes = len.saturating_mul(elem_bytes);
    let max_flash = lowering.budget.max_flash;
    if bytes > max_flash {
        return Err(Error::node(
            node,
            format!(
                "the {what} would take {bytes} bytes, over the flash budget of {max_flash}; raise it with --max-flash if the target has more"
            ),
        ));
    }
    Ok(())
}

/// A graph input of shape `shape`: it lives in the arena too.
pub fn checked_input(
    lowering: &Lowering,
    name: &str,
    shape: &[usize],
    elem_bytes: usize,
) -> Result<()> {
    let bytes =
        crate::onnx::element_count(shape).map_or(usize::MAX, |n| n.saturating_mul(elem_bytes));
    let max_ram = lowering.budget.max_ram;
    if bytes > max_ram {
        return Err(Error::tensor(
            name,
            format!(
                "the graph input of shape {shape:?} takes {bytes} bytes, over the RAM budget of {max_ram}; raise it with --max-ram if the target has more"
            ),
        ));
    }
    Ok(())
}
