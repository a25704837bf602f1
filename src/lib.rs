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
pub mod output;
pub mod plan;
pub mod quant;
mod regenerate;

pub use emit::DEFAULT_WEIGHTS_FILE_THRESHOLD;
pub use error::{Error, Result};
pub use output::Written;
pub use quant::scales::{rewrite_scales, ScalePolicy, ScaleReport, SnapRule};
pub use quant::Rounding;

use std::path::{Path, PathBuf};

/// Code generation settings shared by [`Builder`] and the CLI.
#[derive(Debug, Clone)]
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
    /// `None` is the target CPU's ([`TargetCpu::unroll`]).
    pub unroll: Option<usize>,
    /// The chip the kernels are shaped for (default: [`TargetCpu::Esp32s3`]). The generated
    /// code is portable and its results are the same on every target; only its speed differs.
    pub target_cpu: TargetCpu,
    /// Weight statics of at least this many bytes go to a binary file beside the module
    /// (`model.rs` → `model.weights.bin`), read with `include_bytes!`; `None` keeps every
    /// weight inline. Default: [`DEFAULT_WEIGHTS_FILE_THRESHOLD`] (4096). Only the functions
    /// that write files or return them ([`Builder::generate`], [`generate_files`]) use it:
    /// those that return the module alone as a `String` inline everything, so that the
    /// module is complete.
    pub weights_file_threshold: Option<usize>,
    /// The most bytes of Rust source the layer functions may have, weight statics aside
    /// ([`DEFAULT_MAX_CODE`]): checked as each layer is rendered, so that a model of thousands
    /// of layers is refused before it takes gigabytes to generate (each function is held as a
    /// syntax tree, about a hundred times its text, until the module is assembled).
    pub max_code: usize,
}

/// The default limit on the layer functions' source: 4 MiB, nine times MobileNetV2's.
pub const DEFAULT_MAX_CODE: usize = 4 << 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            templates: None,
            input_shapes: Default::default(),
            budget: Budget::default(),
            scales: ScalePolicy::default(),
            rounding: Rounding::default(),
            arena_link_section: None,
            weights_file_threshold: Some(DEFAULT_WEIGHTS_FILE_THRESHOLD),
            unroll: None,
            max_code: DEFAULT_MAX_CODE,
            target_cpu: TargetCpu::default(),
        }
    }
}

/// The chip a module's kernels are shaped for: the register tiles follow its register file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TargetCpu {
    /// ESP32-S3 (Xtensa LX7): 16 visible address registers, of which a0 (return address) and
    /// a1 (stack pointer) are taken, and no sign-extending byte load.
    #[default]
    Esp32s3,
    /// ESP32-C3 (riscv32imc): 31 registers.
    Esp32c3,
    /// Any other target: the riscv32 shapes.
    Generic,
}

impl TargetCpu {
    /// The unroll budget when [`Options::unroll`] is `None`. ESP32-S3: 6, a 3 x 2 tile, whose
    /// 6 accumulators, 3 weights, 4 pointers and a loop bound fit the 14 free registers; the
    /// 4 x 3 tile spills there (MobileNetV2 under the Xtensa runner: 109.0 M instructions per
    /// inference with 4 x 3, 102.3 M with 3 x 2, 109.7 M with 2 x 2). Elsewhere
    /// [`DEFAULT_UNROLL`].
    pub fn unroll(self) -> usize {
        match self {
            TargetCpu::Esp32s3 => 6,
            TargetCpu::Esp32c3 | TargetCpu::Generic => DEFAULT_UNROLL,
        }
    }
}

impl std::str::FromStr for TargetCpu {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "esp32s3" => Ok(TargetCpu::Esp32s3),
            "esp32c3" => Ok(TargetCpu::Esp32c3),
            "generic" => Ok(TargetCpu::Generic),
            _ => Err(format!(
                "unknown target CPU {s:?}: expected esp32s3, esp32c3 or generic"
            )),
        }
    }
}

/// The riscv32imc unroll budget: a 4 x 3 register tile (4 output channels, 3 pixels). On
/// riscv32imc its inner loop is 7 loads, 12 multiplies and 12 adds without a spill; 4 x 4
/// spills accumulators to the stack, and MobileNetV2 ran 28% more instructions.
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
    /// The binary file of large weights the module reads with `include_bytes!`, to be
    /// written beside it under its `name`; `None` when every weight is inline.
    pub weights_file: Option<emit::WeightsFile>,
    pub warnings: Vec<String>,
    /// What the scale policy did to every quantized tensor.
    pub scales: ScaleReport,
}

/// Generates the Rust module for a model held in memory, with default options.
/// `file_name` names the model in the header and in messages. Every weight is inline.
pub fn generate_from_bytes(bytes: &[u8], file_name: &str) -> Result<String> {
    generate_with(bytes, file_name, &Options::default())
}

/// Generates the Rust module for a model held in memory. Every weight is inline
/// ([`Options::weights_file_threshold`] needs [`generate_files`]).
pub fn generate_with(bytes: &[u8], file_name: &str, options: &Options) -> Result<String> {
    generate_reporting(bytes, file_name, options).map(|g| g.code)
}

/// Generates the Rust module for a model held in memory, with the warnings. Every weight is
/// inline.
pub fn generate_reporting(bytes: &[u8], file_name: &str, options: &Options) -> Result<Generated> {
    let regenerate = regenerate::command(
        options,
        Path::new(file_name),
        regenerate::Destination::Stdout,
    );
    generate_placed(bytes, file_name, options, None, &regenerate)
}

/// Generates the module `<module_stem>.rs` for a model held in memory and, when
/// [`Options::weights_file_threshold`] sends some static there, the weights file
/// `<module_stem>.weights.bin` that the module reads with `include_bytes!` (a path relative
/// to the module's own file, so both must be written to the same directory).
pub fn generate_files(
    bytes: &[u8],
    file_name: &str,
    module_stem: &str,
    options: &Options,
) -> Result<Generated> {
    let module = format!("{module_stem}.rs");
    let regenerate = regenerate::command(
        options,
        Path::new(file_name),
        regenerate::Destination::Named(&module),
    );
    generate_files_regenerated(bytes, file_name, module_stem, options, &regenerate)
}

/// [`generate_files`] with the header's regenerate command given.
fn generate_files_regenerated(
    bytes: &[u8],
    file_name: &str,
    module_stem: &str,
    options: &Options,
    regenerate: &str,
) -> Result<Generated> {
    let name = weights_file_name(module_stem);
    let side_file = options
        .weights_file_threshold
        .map(|threshold| emit::SideFile {
            name: &name,
            threshold,
        });
    generate_placed(bytes, file_name, options, side_file, regenerate)
}

/// The model as onnx2esp reads it, written back to ONNX: layout ops at the float edges moved
/// inside the quantized core, QOperator nodes expanded, constants folded, and every scale
/// as [`Options::scales`] leaves it (powers of two under `--scales snap`). ONNX Runtime running
/// the result computes what the generated module computes. Returns the bytes and what the
/// scale policy did.
pub fn rewrite_model(
    bytes: &[u8],
    file_name: &str,
    options: &Options,
) -> Result<(Vec<u8>, ScaleReport)> {
    let graph = onnx::Graph::load(bytes, file_name, &options.input_shapes)?;
    let (graph, scales) = rewrite_scales(&graph, options.scales)?;
    Ok((graph.to_onnx_bytes(), scales))
}

/// The weights file of module `<module_stem>.rs`.
pub fn weights_file_name(module_stem: &str) -> String {
    format!("{module_stem}.weights.bin")
}

/// The template context of one layer, as pretty JSON: what its template receives
/// (`generate --dump-context NODE`). `node` is the ONNX name of the layer's node (the first
/// node when a Relu/Clip is fused into it) or the generated function's name.
pub fn template_context(
    bytes: &[u8],
    file_name: &str,
    options: &Options,
    node: &str,
) -> Result<String> {
    let templates = emit::Templates::new(options.templates.as_deref(), options.rounding)?;
    let graph = onnx::Graph::load(bytes, file_name, &options.input_shapes)?;
    let (graph, _) = rewrite_scales(&graph, options.scales)?;
    let qgraph = quant::lower(&graph, &templates, options.rounding)?;
    let plan = plan::Plan::new(&qgraph, &templates);
    let unroll = options.unroll.unwrap_or(options.target_cpu.unroll());
    match emit::layer_context(&qgraph, &plan, unroll, node)? {
        Some(context) => Ok(serde_json::to_string_pretty(&context).unwrap_or_default()),
        None => {
            let layers: Vec<String> = qgraph
                .layers
                .iter()
                .map(|l| format!("'{}'", emit::comment_safe(&l.node.name)))
                .collect();
            Err(Error::Model(format!(
                "no layer comes from node '{}'; the layers' nodes are {}",
                emit::comment_safe(node),
                layers.join(", ")
            )))
        }
    }
}

fn generate_placed(
    bytes: &[u8],
    file_name: &str,
    options: &Options,
    side_file: Option<emit::SideFile>,
    regenerate: &str,
) -> Result<Generated> {
    if let Some(section) = &options.arena_link_section {
        emit::check_link_section(section)?;
    }
    let templates = emit::Templates::new(options.templates.as_deref(), options.rounding)?;
    let graph = onnx::Graph::load(bytes, file_name, &options.input_shapes)?;
    let (graph, scales) = rewrite_scales(&graph, options.scales)?;
    let qgraph = quant::lower_within(&graph, &templates, options.rounding, options.budget)?;
    let plan = plan::Plan::new(&qgraph, &templates);
    let emitted = emit::emit(
        &graph,
        &qgraph,
        &plan,
        &templates,
        emit::EmitSettings {
            arena_link_section: options.arena_link_section.as_deref(),
            unroll: options.unroll.unwrap_or(options.target_cpu.unroll()),
            side_file,
            regenerate,
            max_code: options.max_code,
        },
    )?;
    let warnings = options.budget.check(&emitted, file_name)?;
    Ok(Generated {
        code: emitted.code,
        weights_file: emitted.weights_file,
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
    write_file: output::WriteFile,
}

impl Builder {
    pub fn new(model: impl AsRef<Path>) -> Builder {
        Builder {
            model: model.as_ref().to_path_buf(),
            out_dir: None,
            output: None,
            rerun_if_changed: true,
            options: Options::default(),
            write_file: |path, content| std::fs::write(path, content),
        }
    }

    /// How [`Builder::generate`] writes file contents (default: `std::fs::write`). Tests
    /// pass a function that fails, as a full disk would, to check that a failed generation
    /// leaves the previous module and weights file as they were.
    pub fn file_writer(mut self, write: output::WriteFile) -> Builder {
        self.write_file = write;
        self
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

    /// The unroll budget (see [`Options::unroll`]; default: the target CPU's).
    pub fn unroll(mut self, budget: usize) -> Builder {
        self.options.unroll = Some(budget);
        self
    }

    /// The most bytes of source the module may have (see [`Options::max_code`]).
    pub fn max_code(mut self, bytes: usize) -> Builder {
        self.options.max_code = bytes;
        self
    }

    /// The chip the kernels are shaped for (see [`TargetCpu`]; default ESP32-S3).
    pub fn target_cpu(mut self, cpu: TargetCpu) -> Builder {
        self.options.target_cpu = cpu;
        self
    }

    /// Puts the arena in a named link section, e.g. `.ext_ram.bss` for the ESP32-S3's PSRAM
    /// (see [`Options::arena_link_section`]).
    pub fn arena_link_section(mut self, section: &str) -> Builder {
        self.options.arena_link_section = Some(section.to_string());
        self
    }

    /// Weight statics of at least `threshold` bytes go to the weights file beside the module;
    /// `None` keeps every weight inline (see [`Options::weights_file_threshold`]).
    pub fn weights_file_threshold(mut self, threshold: Option<usize>) -> Builder {
        self.options.weights_file_threshold = threshold;
        self
    }

    /// The generated module's source alone, every weight inline, without writing anything.
    /// Warnings go to stderr.
    pub fn generate_string(&self) -> Result<String> {
        let (bytes, file_name) = read_model(&self.model)?;
        let regenerate =
            regenerate::command(&self.options, &self.model, regenerate::Destination::Stdout);
        let generated = generate_placed(&bytes, &file_name, &self.options, None, &regenerate)?;
        for warning in &generated.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(generated.code)
    }

    /// The template context of the layer of node `node`, as JSON (see [`template_context`]).
    pub fn template_context(&self, node: &str) -> Result<String> {
        let (bytes, file_name) = read_model(&self.model)?;
        template_context(&bytes, &file_name, &self.options, node)
    }

    /// The module and weights file for the output path, with their paths.
    fn generate_files(&self) -> Result<(PathBuf, Generated, PathBuf)> {
        let path = self.output_path()?;
        let (bytes, file_name) = read_model(&self.model)?;
        let regenerate = regenerate::command(
            &self.options,
            &self.model,
            regenerate::Destination::File(&path),
        );
        let generated = generate_files_regenerated(
            &bytes,
            &file_name,
            &module_stem(&path),
            &self.options,
            &regenerate,
        )?;
        Ok((path, generated, self.weights_file_path()?))
    }

    /// Where [`Builder::generate`] writes the weights file, when some weights go there: beside
    /// the module, named after it (`model.rs` → `model.weights.bin`).
    pub fn weights_file_path(&self) -> Result<PathBuf> {
        let path = self.output_path()?;
        Ok(path.with_file_name(weights_file_name(&module_stem(&path))))
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

    /// Generates and writes the module and, when weights go there, its weights file
    /// `<stem>.weights.bin` in the same directory (each only when its content changes, so
    /// that cargo does not rebuild needlessly). A weights file left from an earlier
    /// generation that the module no longer reads is removed. Returns the module's path.
    ///
    /// Both files are written all or nothing: on any failure the previous pair is left as it
    /// was. An output path that exists and is not a regular file, or that is the model, is
    /// refused.
    pub fn generate(&self) -> Result<PathBuf> {
        self.generate_written().map(|w| w.module)
    }

    /// [`Builder::generate`], saying which files the module consists of.
    pub fn generate_written(&self) -> Result<Written> {
        if self.rerun_if_changed {
            println!("cargo:rerun-if-changed={}", self.model.display());
            if let Some(dir) = &self.options.templates {
                println!("cargo:rerun-if-changed={}", dir.display());
            }
        }
        let (path, weights_path) = (self.output_path()?, self.weights_file_path()?);
        output::check_target(&path, &self.model)?;
        output::check_target(&weights_path, &self.model)?;
        let (path, generated, weights_path) = self.generate_files()?;
        for warning in &generated.warnings {
            // Build scripts show cargo:warning lines; elsewhere stderr is the place.
            if self.rerun_if_changed {
                println!("cargo:warning={warning}");
            } else {
                eprintln!("warning: {warning}");
            }
        }
        let plan = match &generated.weights_file {
            Some(file) => output::WeightsPlan::Write(&file.bytes),
            None if is_weights_file(&weights_path) => output::WeightsPlan::Remove,
            None => output::WeightsPlan::Keep,
        };
        let removed = matches!(plan, output::WeightsPlan::Remove).then(|| weights_path.clone());
        output::write_pair(
            self.write_file,
            &path,
            generated.code.as_bytes(),
            &weights_path,
            plan,
        )?;
        Ok(Written {
            module: path,
            weights: generated.weights_file.is_some().then_some(weights_path),
            removed,
        })
    }

    /// Compares what [`Builder::generate`] would write with the files on disk, writing
    /// nothing: one [`Error::Stale`] per file that differs (the module with a unified diff,
    /// the weights file with its first differing byte and the static it belongs to, or a
    /// weights file the module no longer reads); empty when everything is up to date.
    pub fn check(&self) -> Result<Vec<Error>> {
        let (path, generated, weights_path) = self.generate_files()?;
        for warning in &generated.warnings {
            eprintln!("warning: {warning}");
        }
        let mut stale = Vec::new();
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => stale.push(Error::Stale {
                path,
                diff: "it is missing (generate it without --check)".into(),
            }),
            Err(source) => return Err(Error::Io { path, source }),
            Ok(bytes) => {
                let current = String::from_utf8_lossy(&bytes);
                if current != generated.code {
                    let diff = similar::TextDiff::from_lines(current.as_ref(), &generated.code)
                        .unified_diff()
                        .header(&path.display().to_string(), "generated")
                        .to_string();
                    stale.push(Error::Stale {
                        path,
                        diff: format!("it differs from what would be generated\n{diff}"),
                    });
                }
            }
        }
        let on_disk = std::fs::read(&weights_path).ok();
        let problem = match (&generated.weights_file, on_disk) {
            (Some(_), None) => Some("it is missing".to_string()),
            (Some(file), Some(bytes)) => weights_difference(file, &bytes),
            (None, Some(_)) if is_weights_file(&weights_path) => Some(
                "the module keeps every weight inline now and does not read it: delete it".into(),
            ),
            (None, _) => None,
        };
        if let Some(diff) = problem {
            stale.push(Error::Stale {
                path: weights_path,
                diff,
            });
        }
        Ok(stale)
    }
}

/// The file stem of a module's path, which names its weights file.
fn module_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}

/// How `bytes` on disk differ from the weights file that would be generated, if they do.
fn weights_difference(file: &emit::WeightsFile, bytes: &[u8]) -> Option<String> {
    let first = file
        .bytes
        .iter()
        .zip(bytes)
        .position(|(a, b)| a != b)
        .or((file.bytes.len() != bytes.len()).then(|| file.bytes.len().min(bytes.len())))?;
    Some(format!(
        "{} bytes on disk, {} generated; the first difference is at byte {first}, in {}",
        bytes.len(),
        file.bytes.len(),
        file.describe_byte(first)
    ))
}

/// Whether `path` holds a weights file written by onnx2esp (so that removing it loses nothing
/// of the user's).
fn is_weights_file(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| emit::WeightsFile::is_one(&bytes))
}

/// A model file's bytes and its file name (the name messages and headers use).
/// At most [`onnx::limits::MAX_MODEL_BYTES`] are read (a device like `/dev/zero` never ends).
pub fn read_model(path: &Path) -> Result<(Vec<u8>, String)> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(onnx::limits::MAX_MODEL_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(io)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.onnx".into());
    Ok((bytes, file_name))
}
