//! Which template renders a layer. Lowering decides it once, when it makes the layer, from
//! the kernel and the user's templates; the planner and the emitter read the decision.

use crate::error::Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Declares the built-in templates, one line each: the variant, its file under `templates/`
/// (compiled into the binary, so the tool works from any directory and in build.rs) and what
/// it renders.
macro_rules! builtin_templates {
    ($($variant:ident => $file:literal, $doc:literal;)*) => {
        /// The built-in templates, one per kernel family: a typo in a name does not compile.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum BuiltinTemplate {
            $(#[doc = $doc] $variant,)*
        }

        impl BuiltinTemplate {
            /// Every built-in template.
            pub const ALL: &[BuiltinTemplate] = &[$(BuiltinTemplate::$variant,)*];

            /// The file under `templates/`, also its name inside the template engine.
            pub fn file_name(self) -> &'static str {
                match self {
                    $(BuiltinTemplate::$variant => $file,)*
                }
            }

            /// The template's source.
            pub fn source(self) -> &'static str {
                match self {
                    $(BuiltinTemplate::$variant => include_str!(concat!("../../templates/", $file)),)*
                }
            }
        }
    };
}

builtin_templates! {
    Concat => "concat.rs.tera", "Concat: each input requantized to the output's exponent.";
    Conv => "conv.rs.tera", "Convolution, 1-D and 2-D, with any groups.";
    ConvPointwise => "conv_pointwise.rs.tera", "The 1x1 convolution, with its register tile.";
    ConvTranspose => "conv_transpose.rs.tera", "Transposed convolution, 1-D and 2-D.";
    Dense => "dense.rs.tera", "Gemm and MatMul by a constant weight, with a register tile.";
    Elementwise => "elementwise.rs.tera", "Broadcasting arithmetic and comparisons.";
    LpNormalization => "lp_normalization.rs.tera", "LpNormalization in f32.";
    MatMul => "matmul.rs.tera", "MatMul of two activations.";
    Move => "move.rs.tera", "Data movement by an index table (Transpose, Slice, Pad, ...).";
    Normalization => "normalization.rs.tera", "LayerNormalization and RMSNormalization in f32.";
    Pool => "pool.rs.tera", "Max and average pooling, 1-D and 2-D.";
    Recurrent => "recurrent.rs.tera", "LSTM and GRU: every step of every direction, state in Model.";
    RecurrentState => "recurrent_state.rs.tera", "An LSTM's or GRU's state after the last step (Y_h, Y_c).";
    Reduce => "reduce.rs.tera", "The Reduce* ops.";
    Requantize => "requantize.rs.tera", "A shift from one exponent to another, with a clamp.";
    ResizeLinear => "resize_linear.rs.tera", "Linear Resize.";
    Scatter => "scatter.rs.tera", "ScatterND.";
    Softmax => "softmax.rs.tera", "Softmax and LogSoftmax.";
    Table => "table.rs.tera", "Activations by a 256-entry lookup table.";
}

/// The template that renders a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renderer {
    Builtin(BuiltinTemplate),
    /// A user template, by its name: its path inside the templates directory, with `/`
    /// (`my.ops/Swish.rs.tera`), so that it never depends on how the directory was spelled.
    User(String),
}

impl Renderer {
    /// The file it stands for, independent of where the templates directory is:
    /// `templates/conv.rs.tera` (built-in) or the user template's relative path. For the
    /// generated code.
    pub fn source_name(&self) -> String {
        match self {
            Renderer::Builtin(template) => format!("templates/{}", template.file_name()),
            Renderer::User(relative) => relative.clone(),
        }
    }

    pub fn is_builtin(&self) -> bool {
        matches!(self, Renderer::Builtin(_))
    }
}

/// The tera comment by which a user template declares that it applies the fused Relu/Clip
/// (`clamp_lo`, `clamp_hi` or `clamp`). Without it, a Relu/Clip after the layer stays a layer
/// of its own.
pub const APPLIES_CLAMP: &str = "onnx2esp: applies_clamp";

/// One user template: a custom layer, or the override of a built-in kernel.
#[derive(Debug, Clone)]
pub struct UserTemplate {
    /// Its path inside the templates directory (see [`Renderer::User`]).
    pub name: String,
    /// Whether it declares [`APPLIES_CLAMP`].
    pub applies_clamp: bool,
}

/// The user's templates, by the op they implement: what lowering needs to know of them.
#[derive(Debug, Default)]
pub struct UserTemplates {
    dir: Option<PathBuf>,
    /// (domain, op type) → the user's template.
    by_op: BTreeMap<(String, String), UserTemplate>,
    /// (domain, op type) → the error of a user template that does not parse. Reported when a
    /// node uses it, so that the message can name the node too.
    broken: BTreeMap<(String, String), Error>,
}

impl UserTemplates {
    /// No templates yet, to be read from `dir`.
    pub fn new(dir: Option<&Path>) -> UserTemplates {
        UserTemplates {
            dir: dir.map(Path::to_path_buf),
            ..UserTemplates::default()
        }
    }

    pub fn add(&mut self, domain: &str, op_type: &str, template: UserTemplate) {
        self.by_op.insert(key(domain, op_type), template);
    }

    pub fn add_broken(&mut self, domain: &str, op_type: &str, error: Error) {
        self.broken.insert(key(domain, op_type), error);
    }

    /// The user's template for an op, if there is one.
    pub fn get(&self, domain: &str, op_type: &str) -> Option<&UserTemplate> {
        self.by_op.get(&key(domain, op_type))
    }

    /// The template that renders a layer of this op: the user's, else the kernel's own.
    pub fn renderer(&self, domain: &str, op_type: &str, kernel: &dyn super::Kernel) -> Renderer {
        match self.get(domain, op_type) {
            Some(template) => Renderer::User(template.name.clone()),
            None => kernel.renderer(),
        }
    }

    /// Whether a Relu/Clip may fuse into a layer of this op: always for the built-in kernels,
    /// which all apply it, and for a user template only when it declares [`APPLIES_CLAMP`].
    pub fn fuses_clamp(&self, domain: &str, op_type: &str) -> bool {
        self.get(domain, op_type).is_none_or(|t| t.applies_clamp)
    }

    /// The parse error of the user's template for this op, if it has one that is broken.
    pub fn broken(&self, domain: &str, op_type: &str) -> Option<&Error> {
        self.broken.get(&key(domain, op_type))
    }

    /// The templates directory, if there is one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
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
}

/// The default domain is spelled two ways.
fn key(domain: &str, op_type: &str) -> (String, String) {
    let domain = if domain == "ai.onnx" { "" } else { domain };
    (domain.to_string(), op_type.to_string())
}
