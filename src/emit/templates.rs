//! The built-in kernel templates, compiled into the binary so that the tool works from any
//! directory (and in build.rs).

use crate::error::{Error, Result};

/// (file name, source) of every built-in template under `templates/`.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "concat.rs.tera",
        include_str!("../../templates/concat.rs.tera"),
    ),
    (
        "conv2d.rs.tera",
        include_str!("../../templates/conv2d.rs.tera"),
    ),
    (
        "conv_transpose.rs.tera",
        include_str!("../../templates/conv_transpose.rs.tera"),
    ),
    (
        "dense.rs.tera",
        include_str!("../../templates/dense.rs.tera"),
    ),
    (
        "elementwise.rs.tera",
        include_str!("../../templates/elementwise.rs.tera"),
    ),
    (
        "matmul.rs.tera",
        include_str!("../../templates/matmul.rs.tera"),
    ),
    ("move.rs.tera", include_str!("../../templates/move.rs.tera")),
    (
        "pool2d.rs.tera",
        include_str!("../../templates/pool2d.rs.tera"),
    ),
    (
        "reduce.rs.tera",
        include_str!("../../templates/reduce.rs.tera"),
    ),
    (
        "requantize.rs.tera",
        include_str!("../../templates/requantize.rs.tera"),
    ),
    (
        "softmax.rs.tera",
        include_str!("../../templates/softmax.rs.tera"),
    ),
    (
        "table.rs.tera",
        include_str!("../../templates/table.rs.tera"),
    ),
];

pub fn builtin_templates() -> Result<tera::Tera> {
    let mut tera = tera::Tera::default();
    // Generated Rust is not HTML.
    tera.autoescape_on(vec![]);
    tera.add_raw_templates(BUILTIN.iter().copied())
        .map_err(|e| Error::Template {
            template: "built-in".into(),
            message: e.to_string(),
        })?;
    Ok(tera)
}
