//! onnx2esp compiles a quantized ONNX model with power-of-two scales into a `no_std` Rust
//! module of specialised, allocation-free integer code, for the ESP32-S3 and other MCUs.
//!
//! The pipeline: [`onnx`] loads and folds the graph, [`quant`] lowers the QDQ float graph into
//! the integer [`ir`], [`plan`] places tensors in one arena, and [`emit`] writes the module.
//!
//! In `build.rs`:
//!
//! ```no_run
//! onnx2esp::Builder::new("models/digits.onnx").generate().unwrap();
//! // then, in the crate: mod digits { include!(concat!(env!("OUT_DIR"), "/digits.rs")); }
//! ```

pub mod emit;
pub mod error;
pub mod inspect;
pub mod ir;
pub mod onnx;
pub mod ops;
pub mod plan;
pub mod quant;

pub use error::{Error, Result};
pub use quant::scales::{rewrite_scales, ScalePolicy, ScaleReport, SnapRule};
pub use quant::Rounding;

use std::path::{Path, PathBuf};

/// Code generation settings shared by [`Builder`] and the CLI.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A directory of user templates: custom layers and overrides of built-in kernels
    /// (see `templates/README.md`).
    pub templates: Option<PathBuf>,
    /// Static shapes for graph inputs, by name (required where the model's are dynamic).
    pub input_shapes: std::collections::BTreeMap<String, Vec<usize>>,
    /// The RAM and flash the module may use.
    pub budget: Budget,
    /// What to do with scales that are not powers of two and nonzero zero points.
    pub scales: ScalePolicy,
    /// How ties round everywhere the integer pipeline rounds (default: half to even, bit-exact
    /// with ONNX Runtime; half-up matches ESP-DL's ESP32-S3 kernels).
    pub rounding: Rounding,
    /// A link section for the arena (e.g. `.ext_ram.bss`, the ESP32-S3's PSRAM): the module
    /// gets `ARENA_LINK_SECTION` and an `in_arena_section!` macro that places the firmware's
    /// `Model` static there (the arena is inside `Model`).
    pub arena_link_section: Option<String>,
    /// The unroll budget: how many multiply-accumulates a kernel's innermost loop body may
    /// write out (the pointwise convolution's register tile; templates get it as `unroll`).
    /// More is faster until the accumulators no longer fit the registers, and bigger.
    /// `None` is [`DEFAULT_UNROLL`].
    pub unroll: Option<usize>,
}

/// The default unroll budget: a 4 x 3 register tile (4 output channels, 3 pixels). On
/// riscv32imc its inner loop is 7 loads, 12 multiplies and 12 adds without a spill; 4 x 4
/// spills accumulators to the stack and ran 30% more instructions on MobileNetV2's 1x1 convs.
pub const DEFAULT_UNROLL: usize = 12;

/// Memory budgets: an arena or a weight set over them is an error that states the figures,
/// and using more than [`Budget::WARN_PERCENT`] of either is a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of RAM for the arena (`ARENA_BYTES`).
    pub max_ram: usize,
    /// Bytes of flash for weights and biases.
    pub max_flash: usize,
}

impl Budget {
    pub const WARN_PERCENT: usize = 80;

    /// Sized for an ESP32-S3 without PSRAM: of its 512 KiB of SRAM about 320 KiB are free for
    /// data next to esp-hal and a stack; 4 MiB is its smallest flash.
    pub const ESP32_S3: Budget = Budget {
        max_ram: 320 * 1024,
        max_flash: 4 * 1024 * 1024,
    };

    /// Errors when over budget, warnings when close.
    fn check(&self, emitted: &emit::Emitted, file_name: &str) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        for (what, used, limit, flag) in [
            (
                "arena (RAM)",
                emitted.arena_bytes,
                self.max_ram,
                "--max-ram",
            ),
            (
                "weights (flash)",
                emitted.weight_bytes,
                self.max_flash,
                "--max-flash",
            ),
        ] {
            if used > limit {
                return Err(Error::Budget {
                    model: file_name.to_string(),
                    what,
                    used,
                    limit,
                    flag,
                });
            }
            if used.saturating_mul(100) > limit.saturating_mul(Self::WARN_PERCENT) {
                warnings.push(format!(
                    "{file_name}: the {what} takes {used} of {limit} bytes ({}%); raise {flag} if the target has more",
                    used.saturating_mul(100) / limit.max(1)
                ));
            }
        }
        Ok(warnings)
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::ESP32_S3
    }
}

/// A generated module and what the generator wants the user to know about it.
#[derive(Debug, Clone)]
pub struct Generated {
    pub code: String,
    pub warnings: Vec<String>,
    /// What the scale policy did to every quantized tensor.
    pub scales: ScaleReport,
}

/// Generates the Rust module for a model held in memory, with default options.
/// `file_name` names the model in the header and in messages.
pub fn generate_from_bytes(bytes: &[u8], file_name: &str) -> Result<String> {
    generate_with(bytes, file_name, &Options::default())
}

/// Generates the Rust module for a model held in memory.
pub fn generate_with(bytes: &[u8], file_name: &str, options: &Options) -> Result<String> {
    generate_reporting(bytes, file_name, options).map(|g| g.code)
}

/// Generates the Rust module for a model held in memory, with the warnings.
pub fn generate_reporting(bytes: &[u8], file_name: &str, options: &Options) -> Result<Generated> {
    if let Some(section) = &options.arena_link_section {
        emit::check_link_section(section)?;
    }
    let templates = emit::Templates::new(options.templates.as_deref(), options.rounding)?;
    let graph = onnx::Graph::load(bytes, file_name, &options.input_shapes)?;
    let (graph, scales) = rewrite_scales(&graph, options.scales)?;
    let qgraph = quant::lower(&graph, &templates, options.rounding)?;
    let plan = plan::Plan::new(&qgraph, &templates);
    let emitted = emit::emit(
        &graph,
        &qgraph,
        &plan,
        &templates,
        options.arena_link_section.as_deref(),
        options.unroll.unwrap_or(DEFAULT_UNROLL),
    )?;
    let warnings = options.budget.check(&emitted, file_name)?;
    Ok(Generated {
        code: emitted.code,
        warnings,
        scales,
    })
}

/// Generates a module from a model file, in the style of prost-build: usable from `build.rs`
/// (writes into `OUT_DIR` and prints `cargo:rerun-if-changed`) and behind the CLI.
#[derive(Debug, Clone)]
pub struct Builder {
    model: PathBuf,
    out_dir: Option<PathBuf>,
    output: Option<PathBuf>,
    rerun_if_changed: bool,
    options: Options,
}

impl Builder {
    pub fn new(model: impl AsRef<Path>) -> Builder {
        Builder {
            model: model.as_ref().to_path_buf(),
            out_dir: None,
            output: None,
            rerun_if_changed: true,
            options: Options::default(),
        }
    }

    /// Replaces all settings at once (the CLI builds them from its flags).
    pub fn options(mut self, options: Options) -> Builder {
        self.options = options;
        self
    }

    /// Adds a directory of templates: `DIR/D/T.rs.tera` implements op `T` of domain `D`
    /// (`DIR/T.rs.tera` for the default domain), and overrides a built-in kernel of that op.
    pub fn templates(mut self, dir: impl AsRef<Path>) -> Builder {
        self.options.templates = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Directory for the module, named after the model (`digits.onnx` → `digits.rs`).
    /// Defaults to `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Builder {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Exact path of the module file; overrides [`Builder::out_dir`].
    pub fn output(mut self, path: impl AsRef<Path>) -> Builder {
        self.output = Some(path.as_ref().to_path_buf());
        self
    }

    /// Gives graph input `name` a static shape (ONNX order), for models exported with
    /// dynamic axes.
    pub fn input_shape(mut self, name: &str, dims: &[usize]) -> Builder {
        self.options
            .input_shapes
            .insert(name.to_string(), dims.to_vec());
        self
    }

    /// Whether [`Builder::generate`] prints `cargo:rerun-if-changed` (default: yes).
    pub fn rerun_if_changed(mut self, emit: bool) -> Builder {
        self.rerun_if_changed = emit;
        self
    }

    /// Sets the RAM and flash budgets (default: [`Budget::ESP32_S3`]).
    pub fn budget(mut self, budget: Budget) -> Builder {
        self.options.budget = budget;
        self
    }

    /// What to do with scales that are not powers of two and nonzero zero points (default:
    /// [`ScalePolicy::Exact`], an error naming every such tensor).
    pub fn scales(mut self, policy: ScalePolicy) -> Builder {
        self.options.scales = policy;
        self
    }

    /// How ties round in the generated integer pipeline (default: [`Rounding::HalfEven`]).
    pub fn rounding(mut self, rounding: Rounding) -> Builder {
        self.options.rounding = rounding;
        self
    }

    /// The unroll budget (see [`Options::unroll`]; default [`DEFAULT_UNROLL`]).
    pub fn unroll(mut self, budget: usize) -> Builder {
        self.options.unroll = Some(budget);
        self
    }

    /// Puts the arena in a named link section, e.g. `.ext_ram.bss` for the ESP32-S3's PSRAM
    /// (see [`Options::arena_link_section`]).
    pub fn arena_link_section(mut self, section: &str) -> Builder {
        self.options.arena_link_section = Some(section.to_string());
        self
    }

    /// The generated module's source, without writing anything. Warnings go to stderr.
    pub fn generate_string(&self) -> Result<String> {
        let generated = self.generate_reporting()?;
        for warning in &generated.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(generated.code)
    }

    fn generate_reporting(&self) -> Result<Generated> {
        let (bytes, file_name) = read_model(&self.model)?;
        generate_reporting(&bytes, &file_name, &self.options)
    }

    /// Where [`Builder::generate`] writes.
    pub fn output_path(&self) -> Result<PathBuf> {
        if let Some(path) = &self.output {
            return Ok(path.clone());
        }
        let dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    Error::Model(
                        "no output path: set out_dir/output, or run inside build.rs".into(),
                    )
                })?,
        };
        let stem = self
            .model
            .file_stem()
            .map(|s| emit::rust_ident(&s.to_string_lossy()))
            .unwrap_or_else(|| "model".into());
        Ok(dir.join(format!("{stem}.rs")))
    }

    /// Generates and writes the module (only when its content changes, so that cargo does
    /// not rebuild needlessly). Returns the path written.
    pub fn generate(&self) -> Result<PathBuf> {
        if self.rerun_if_changed {
            println!("cargo:rerun-if-changed={}", self.model.display());
            if let Some(dir) = &self.options.templates {
                println!("cargo:rerun-if-changed={}", dir.display());
            }
        }
        let generated = self.generate_reporting()?;
        for warning in &generated.warnings {
            // Build scripts show cargo:warning lines; elsewhere stderr is the place.
            if self.rerun_if_changed {
                println!("cargo:warning={warning}");
            } else {
                eprintln!("warning: {warning}");
            }
        }
        let code = generated.code;
        let path = self.output_path()?;
        if std::fs::read_to_string(&path).ok().as_deref() != Some(code.as_str()) {
            write_atomically(&path, &code)?;
        }
        Ok(path)
    }
}

/// A model file's bytes and its file name (the name messages and headers use).
pub fn read_model(path: &Path) -> Result<(Vec<u8>, String)> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.onnx".into());
    Ok((bytes, file_name))
}

/// Writes through a temporary file in the same directory and renames it over `path`, so that
/// a reader (or a build interrupted half-way) never sees a partial module.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io(e)
    })
}
