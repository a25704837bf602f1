//! Kernel templates: the built-in ones under `templates/` (compiled into the binary, so the
//! tool works from any directory and in build.rs) and a user directory that adds custom
//! layers and overrides built-ins. A node with domain `D` and op type `T` uses `DIR/D/T.rs.tera`,
//! or `DIR/T.rs.tera` in the default domain.

use crate::error::{Error, Result};
use crate::quant::table::expression_table;
use crate::quant::Rounding;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

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
        "conv_pointwise.rs.tera",
        include_str!("../../templates/conv_pointwise.rs.tera"),
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
    (
        "lp_normalization.rs.tera",
        include_str!("../../templates/lp_normalization.rs.tera"),
    ),
    ("move.rs.tera", include_str!("../../templates/move.rs.tera")),
    (
        "normalization.rs.tera",
        include_str!("../../templates/normalization.rs.tera"),
    ),
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
        "resize_linear.rs.tera",
        include_str!("../../templates/resize_linear.rs.tera"),
    ),
    (
        "scatter.rs.tera",
        include_str!("../../templates/scatter.rs.tera"),
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

/// Prefix of user template names inside tera, so they never collide with built-ins.
const USER: &str = "user:";

pub struct Templates {
    tera: tera::Tera,
    dir: Option<PathBuf>,
    /// (domain, op type) → tera name of the user's template.
    user: BTreeMap<(String, String), String>,
    /// (domain, op type) → the error of a user template that does not parse. Reported when a
    /// node uses it, so that the message can name the node too.
    broken: BTreeMap<(String, String), Error>,
}

impl Templates {
    /// The built-in templates plus, when given, every `*.rs.tera` in `user_dir` (default
    /// domain) and in its subdirectories (named after their domain).
    /// The built-in templates and those of `user_dir`; the `table` helper rounds with `rounding`.
    pub fn new(user_dir: Option<&Path>, rounding: Rounding) -> Result<Templates> {
        let mut tera = tera::Tera::default();
        // Generated Rust is not HTML.
        tera.autoescape_on(vec![]);
        tera.add_raw_templates(BUILTIN.iter().copied())
            .map_err(|e| template_error("built-in templates", &e))?;
        register_helpers(&mut tera, rounding);
        let mut templates = Templates {
            tera,
            dir: user_dir.map(Path::to_path_buf),
            user: BTreeMap::new(),
            broken: BTreeMap::new(),
        };
        if let Some(dir) = user_dir {
            templates.load_user_dir(dir)?;
        }
        Ok(templates)
    }

    fn load_user_dir(&mut self, dir: &Path) -> Result<()> {
        let io = |path: &Path, source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            if path.is_dir() {
                let domain = path.file_name().map(|d| d.to_string_lossy().into_owned());
                for inner in std::fs::read_dir(&path).map_err(|e| io(&path, e))? {
                    found.push((domain.clone(), inner.map_err(|e| io(&path, e))?.path()));
                }
            } else {
                found.push((None, path));
            }
        }
        // Sorted, so that the result never depends on directory order.
        found.sort();
        for (domain, path) in found {
            let Some(op) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".rs.tera"))
            else {
                continue;
            };
            let source = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            let name = format!("{USER}{}", path.display());
            let key = (domain.unwrap_or_default(), op.to_string());
            match self.tera.add_raw_template(&name, &source) {
                Ok(()) => {
                    self.user.insert(key, name);
                }
                Err(e) => {
                    self.broken
                        .insert(key, template_error(&path.display().to_string(), &e));
                }
            }
        }
        Ok(())
    }

    /// The user's template for a node, if there is one.
    pub fn user_template(&self, domain: &str, op_type: &str) -> Option<&str> {
        self.user.get(&key(domain, op_type)).map(String::as_str)
    }

    /// The parse error of the user's template for this op, if it has one that is broken.
    pub fn broken_template(&self, domain: &str, op_type: &str) -> Option<&Error> {
        self.broken.get(&key(domain, op_type))
    }

    /// Where a template for this op would live, for messages.
    pub fn expected_path(&self, domain: &str, op_type: &str) -> String {
        let dir = self
            .dir
            .as_ref()
            .map_or("<templates dir>".to_string(), |d| d.display().to_string());
        if domain.is_empty() || domain == "ai.onnx" {
            format!("{dir}/{op_type}.rs.tera")
        } else {
            format!("{dir}/{domain}/{op_type}.rs.tera")
        }
    }

    /// The file a tera template name stands for, for messages.
    pub fn display_name(name: &str) -> String {
        match name.strip_prefix(USER) {
            Some(path) => path.to_string(),
            None => format!("templates/{name}"),
        }
    }

    pub fn tera(&self) -> &tera::Tera {
        &self.tera
    }
}

fn key(domain: &str, op_type: &str) -> (String, String) {
    let domain = if domain == "ai.onnx" { "" } else { domain };
    (domain.to_string(), op_type.to_string())
}

fn template_error(template: &str, e: &tera::Error) -> Error {
    Error::Template {
        template: template.to_string(),
        message: super::kernel::error_chain(e),
    }
}

/// Helpers for templates, each returning Rust source text:
/// - `requantize(value="acc", shift=7)`: the requantization of DESIGN.md with the module's
///   rounding mode (half to even unless generated with half-up), saturated to int8;
/// - `saturate(value="v")`: saturation of an i64 expression to int8;
/// - `table(expr="x / (1 + exp(-beta * x))", input_exponent=-5, output_exponent=-5, beta=1.5)`:
///   a 256-entry int8 table `T[q + 128]`, as an array literal; extra arguments are variables.
fn register_helpers(tera: &mut tera::Tera, rounding: Rounding) {
    fn string(args: &HashMap<String, tera::Value>, key: &str) -> tera::Result<String> {
        match args.get(key) {
            Some(tera::Value::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(tera::Error::msg(format!("missing argument `{key}`"))),
        }
    }
    fn int(args: &HashMap<String, tera::Value>, key: &str) -> tera::Result<i32> {
        args.get(key)
            .and_then(tera::Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| tera::Error::msg(format!("argument `{key}` must be an integer")))
    }
    tera.register_function("requantize", |args: &HashMap<String, tera::Value>| {
        Ok(format!(
            "requantize_i8({}, {})",
            string(args, "value")?,
            int(args, "shift")?
        )
        .into())
    });
    tera.register_function("saturate", |args: &HashMap<String, tera::Value>| {
        Ok(format!("saturate_i8({})", string(args, "value")?).into())
    });
    tera.register_function("table", move |args: &HashMap<String, tera::Value>| {
        let expr = string(args, "expr")?;
        let (ex, ey) = (int(args, "input_exponent")?, int(args, "output_exponent")?);
        let mut variables = BTreeMap::new();
        for (key, value) in args {
            if !matches!(key.as_str(), "expr" | "input_exponent" | "output_exponent") {
                let v = value.as_f64().ok_or_else(|| {
                    tera::Error::msg(format!("table variable `{key}` must be a number"))
                })?;
                variables.insert(key.clone(), v);
            }
        }
        let table = expression_table(&expr, ex, ey, &variables, rounding)
            .map_err(|m| tera::Error::msg(format!("table `{expr}`: {m}")))?;
        let items: Vec<String> = table.iter().map(i8::to_string).collect();
        Ok(format!("[{}]", items.join(", ")).into())
    });
}
