//! The one error type of the library. Every input-dependent failure names what it is about:
//! the node (name and op type) or the tensor, and what was expected against what was found.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while turning a model into a Rust module.
///
/// `Debug` prints the same text as `Display`, so that a build script's `.unwrap()` shows the
/// message rather than a dump of the variant.
#[derive(thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{file}: not a valid ONNX protobuf: {message}")]
    Decode { file: String, message: String },

    #[error("model: {0}")]
    Model(String),

    /// A broken invariant of onnx2esp itself, not of the model: a bug to report.
    #[error("internal error (a bug in onnx2esp, please report it with the model): {0}")]
    Internal(String),

    /// A command-line or builder option that does not fit the model, named by its flag.
    #[error("{option}: {message}")]
    Usage {
        option: &'static str,
        message: String,
    },

    #[error("node '{node}' ({op}): {message}")]
    Node {
        node: String,
        op: String,
        message: String,
    },

    #[error("tensor '{tensor}': {message}")]
    Tensor { tensor: String, message: String },

    #[error(
        "tensor '{tensor}' (produced by node '{node}'): scale {scale:e} is not a power of two; \
         the nearest exponent is {nearest} (2^{nearest} = {nearest_scale:e}, relative error {relative_error:.3e})"
    )]
    NotPowerOfTwo {
        tensor: String,
        node: String,
        scale: f64,
        nearest: i32,
        nearest_scale: f64,
        relative_error: f64,
    },

    #[error("tensor '{tensor}' (produced by node '{node}'): zero point {zero_point} is not 0")]
    ZeroPoint {
        tensor: String,
        node: String,
        zero_point: i64,
    },

    #[error(
        "{} quantized tensor(s) have no exact power-of-two exponent; `--scales snap` rounds them \
         (see docs/user-guide.md, Scale policies):\n{}",
        issues.len(),
        issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n")
    )]
    Scales { issues: Vec<ScaleIssue> },

    #[error(
        "generated code for {what} does not parse as Rust: {message}\n--- snippet ---\n{snippet}"
    )]
    InvalidRust {
        what: String,
        message: String,
        snippet: String,
    },

    #[error("{count} node(s) have no implementation (built-in ops: docs/operators.md; custom layers: `--templates DIR`):\n{list}")]
    Unsupported { count: usize, list: String },

    #[error("{model}: the {what} needs {used} bytes, over the budget of {limit}; raise it with {flag} if the target has more")]
    Budget {
        model: String,
        what: &'static str,
        used: usize,
        limit: usize,
        flag: &'static str,
    },

    #[error("arena link section \"{section}\": {message}")]
    LinkSection { section: String, message: String },

    #[error("template {template}: {message}")]
    Template { template: String, message: String },

    /// A checked-in file that differs from what would be generated: `diff` says how (a
    /// unified diff, the first differing byte of a weights file, or that it is missing).
    #[error("{path} is stale: {diff}")]
    Stale { path: PathBuf, diff: String },
}

impl Error {
    /// An error about one tensor.
    pub fn tensor(tensor: &str, message: impl Into<String>) -> Self {
        Error::Tensor {
            tensor: tensor.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Text from a model made safe to print on a terminal: control characters (escape sequences
/// included) and the invisible characters that reorder or hide text (bidi overrides and
/// isolates, zero-width characters) become `\u{..}` escapes; newlines and tabs stay.
pub fn terminal_safe(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control() && c != '\n' && c != '\t'
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
    };
    if !text.chars().any(hidden) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if hidden(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build scripts `unwrap()` errors: Debug must read like the message, not a struct dump.
    #[test]
    fn debug_prints_the_message() {
        let error = Error::Io {
            path: "models/missing.onnx".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(format!("{error:?}"), error.to_string());
        assert!(format!("{error:?}").starts_with("cannot read models/missing.onnx: "));
    }

    #[test]
    fn terminal_safe_escapes_controls_and_bidi_and_keeps_the_rest() {
        let text = "node '\u{1b}[2J\u{202e}txt' é\n\tok";
        assert_eq!(
            super::terminal_safe(text),
            "node '\\u{1b}[2J\\u{202e}txt' é\n\tok"
        );
    }
}

/// An error and its chain of sources, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Why a tensor has no exact exponent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleProblem {
    /// The scale is not a power of two. `channel` is set for per-channel scales (the first
    /// such channel; `channels` counts them).
    NotPowerOfTwo {
        scale: f64,
        channel: Option<usize>,
        channels: usize,
        nearest: i32,
        relative_error: f64,
    },
    /// A zero point that is not the int8 zero (0 for int8, 128 for uint8).
    ZeroPoint { zero_point: i64, dtype: String },
    /// Zero, negative, infinite or NaN: no exponent means anything.
    InvalidScale { scale: f64 },
}

/// One tensor `--scales exact` cannot represent (see [`Error::Scales`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleIssue {
    pub tensor: String,
    /// The QuantizeLinear or DequantizeLinear node that quantizes it (the first, if several).
    pub node: String,
    pub op: String,
    pub problem: ScaleProblem,
}

impl fmt::Display for ScaleIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tensor '{}' ({} '{}'): ",
            self.tensor, self.op, self.node
        )?;
        match &self.problem {
            ScaleProblem::NotPowerOfTwo {
                scale,
                channel,
                channels,
                nearest,
                relative_error,
            } => {
                if let Some(c) = channel {
                    write!(
                        f,
                        "{channels} per-channel scales are not powers of two, e.g. channel {c}: "
                    )?;
                }
                // ONNX scales are f32: print them as the model wrote them.
                write!(
                    f,
                    "scale {:e} is not a power of two; the nearest exponent is {nearest} \
                     (2^{nearest} = {:e}, relative error {relative_error:.3e})",
                    *scale as f32,
                    2f64.powi(*nearest)
                )
            }
            ScaleProblem::ZeroPoint { zero_point, dtype } => write!(
                f,
                "{dtype} zero point {zero_point} is asymmetric (exact needs 0, or 128 for uint8)"
            ),
            ScaleProblem::InvalidScale { scale } => {
                write!(f, "scale {scale} is not a positive finite number")
            }
        }
    }
}
