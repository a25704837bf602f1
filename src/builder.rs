//! [`Builder`]: generation from a model file, in the style of prost-build, for `build.rs`
//! and behind the CLI. It writes the module and its weights file together, or checks them.

use crate::emit;
use crate::error::{Error, Result};
use crate::generate::weights_file_name;
use crate::onnx;
use crate::options::{Budget, EmbedTests, Options, TargetCpu};
use crate::output::{self, Written};
use crate::pipeline::{self, Generated};
use crate::quant::Rounding;
use crate::regenerate;
use crate::rewrite::scales::ScalePolicy;
use crate::text::rust_ident;
use std::path::{Path, PathBuf};

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

    /// Embeds the first `count` samples of `inputs` (float32 `.npy`) with the `outputs` a
    /// reference gave for them, for the module's `Model::self_test` (see [`EmbedTests`]).
    pub fn embed_tests(
        mut self,
        count: usize,
        inputs: impl AsRef<Path>,
        outputs: impl AsRef<Path>,
    ) -> Builder {
        self.options.embed_tests = Some(EmbedTests {
            count,
            inputs: inputs.as_ref().to_path_buf(),
            outputs: outputs.as_ref().to_path_buf(),
        });
        self
    }

    /// The generated module's source alone, every weight inline, without writing anything.
    /// Warnings go to stderr.
    pub fn generate_string(&self) -> Result<String> {
        let (bytes, file_name) = read_model(&self.model)?;
        let regenerate =
            regenerate::command(&self.options, &self.model, regenerate::Destination::Stdout);
        let generated = pipeline::generate(&bytes, &file_name, &self.options, None, &regenerate)?;
        for warning in &generated.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(generated.code)
    }

    /// The template context of the layer of node `node`, as JSON (see [`pipeline::template_context`]).
    pub fn template_context(&self, node: &str) -> Result<String> {
        let (bytes, file_name) = read_model(&self.model)?;
        pipeline::template_context(&bytes, &file_name, &self.options, node)
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
        let generated = crate::generate::generate_files_regenerated(
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
            .map(|s| rust_ident(&s.to_string_lossy()))
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
