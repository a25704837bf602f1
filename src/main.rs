//! The onnx2esp command line: a thin layer over [`onnx2esp::Builder`].

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Compile power-of-two quantized ONNX models into no_std Rust",
    after_help = "Exit status: 0 on success, 1 when `generate --check` finds a stale file \
                  or `compare` a layer that differs, 2 on any error (the message names the \
                  node, tensor or option)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a Rust module from a quantized ONNX model.
    Generate {
        /// The .onnx model.
        model: PathBuf,
        /// Where to write the module (stdout when absent or `-`).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Write nothing; exit 1 with a diff when OUTPUT differs from what would be generated.
        #[arg(long, requires = "output")]
        check: bool,
        #[command(flatten)]
        model_args: ModelArgs,
        /// Bytes of RAM the arena may use (default: 320 KiB, an ESP32-S3 without PSRAM).
        #[arg(long, value_name = "BYTES", default_value_t = onnx2esp::Budget::ESP32_S3.max_ram)]
        max_ram: usize,
        /// Bytes of flash the weights may use (default: 4 MiB).
        #[arg(long, value_name = "BYTES", default_value_t = onnx2esp::Budget::ESP32_S3.max_flash)]
        max_flash: usize,
        /// A link section for the arena, e.g. `.ext_ram.bss` (the ESP32-S3's PSRAM): the
        /// module gets an `in_arena_section!` macro that puts the firmware's `Model` static
        /// there.
        #[arg(long, value_name = "NAME")]
        arena_section: Option<String>,
        /// The unroll budget: multiply-accumulates an innermost loop body may write out
        /// (the register tiles of 1x1 convolutions and fully connected layers). More is
        /// faster until the accumulators spill out of the registers; 1 writes no tile out.
        /// Default: the target CPU's (6 for esp32s3, 12 otherwise).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
        unroll: Option<u64>,
        /// The chip the kernels are shaped for: esp32s3 (Xtensa), esp32c3 (riscv32imc) or
        /// generic. The results are the same on every target; only the speed differs.
        #[arg(long, value_name = "CPU", default_value = "esp32s3")]
        target_cpu: onnx2esp::TargetCpu,
        /// Weights, biases and tables of at least BYTES go to one binary file beside the
        /// module (OUTPUT's stem + `.weights.bin`), read with `include_bytes!`. Needs
        /// --output: a module printed to stdout keeps every weight inline.
        #[arg(
            long,
            value_name = "BYTES",
            requires = "output",
            default_value_t = onnx2esp::DEFAULT_WEIGHTS_FILE_THRESHOLD
        )]
        weights_file_threshold: usize,
        /// Keep every weight inline in the module, as array literals (no weights file).
        #[arg(long, conflicts_with = "weights_file_threshold")]
        inline_weights: bool,
        /// Write nothing; print the template context of the layer of node NODE (or of the
        /// generated function NODE) as JSON: every variable its template can use.
        #[arg(long, value_name = "NODE", conflicts_with_all = ["output", "check"])]
        dump_context: Option<String>,
        /// Bytes of Rust source the layer functions may have, weights aside (default: 4 MiB);
        /// a model that would generate more is refused as soon as that is known.
        #[arg(long, value_name = "BYTES", default_value_t = onnx2esp::DEFAULT_MAX_CODE)]
        max_code: usize,
        /// Embed the first N samples of --test-inputs with the --test-outputs a reference gave
        /// for them: the module gets `Model::self_test()`, which runs them and returns the
        /// first mismatch. Default: no samples, no self_test.
        #[arg(long, value_name = "N", requires_all = ["test_inputs", "test_outputs"], value_parser = clap::value_parser!(u64).range(1..))]
        embed_tests: Option<u64>,
        /// A float32 .npy of inputs, [N, ...input shape], for --embed-tests.
        #[arg(long, value_name = "FILE", requires = "embed_tests")]
        test_inputs: Option<PathBuf>,
        /// A float32 .npy of the reference's outputs for those inputs (dequantized, e.g. ONNX
        /// Runtime's), [N, ...output shape], for --embed-tests.
        #[arg(long, value_name = "FILE", requires = "embed_tests")]
        test_outputs: Option<PathBuf>,
    },
    /// Show how a model's scales become exponents, every layer's shift, and what the rewrite
    /// costs end to end (SQNR, argmax agreement) against the original model run in float.
    Inspect {
        /// The .onnx model.
        model: PathBuf,
        /// `table` for people, `json` for scripts.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// A float32 .npy array of whole inputs (e.g. shape N,1,8,8); random inputs otherwise.
        #[arg(long, value_name = "FILE.npy")]
        inputs: Option<PathBuf>,
        /// How many random inputs to draw when --inputs is absent.
        #[arg(long, default_value_t = 100)]
        samples: usize,
        /// Seed of the random inputs.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Measure the rewrite end to end on this model instead: for a model with custom
        /// layers, which the float engine cannot run, a decomposition of them into standard
        /// ONNX ops with the same tensor names.
        #[arg(long, value_name = "REF.onnx")]
        reference: Option<PathBuf>,
        #[command(flatten)]
        model_args: ModelArgs,
    },
    /// Find the first layer where the generated module and a float reference part: builds the
    /// module for this host with rustc, runs it on the inputs with every layer's output
    /// traced (`Model::run_with`), runs the reference in tract with the same tensors exposed,
    /// and compares them in the module's integers. Exits 1 when some layer differs.
    Compare {
        /// The .onnx model.
        model: PathBuf,
        /// A float32 .npy array of whole inputs (e.g. shape N,1,8,8).
        #[arg(long, value_name = "FILE.npy")]
        inputs: PathBuf,
        /// The model to run as the reference (default: MODEL itself). For a model with
        /// custom layers, a decomposed one whose layer output tensors have the same names.
        #[arg(long, value_name = "REF.onnx")]
        reference: Option<PathBuf>,
        /// Differences of at most this many output steps count as agreement (a float
        /// reference may round a transcendental function differently from a table).
        #[arg(long, value_name = "STEPS", default_value_t = 0.0)]
        tolerance: f64,
        #[command(flatten)]
        model_args: ModelArgs,
    },
    /// Write the model as onnx2esp computes it back to ONNX (layout ops at the float edges
    /// moved inside, QOperator nodes expanded, scales snapped under `--scales snap`), to run
    /// with ONNX Runtime next to the generated module.
    Rewrite {
        /// The .onnx model.
        model: PathBuf,
        /// Where to write the rewritten .onnx model.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        model_args: ModelArgs,
    },
}

/// How to read and lower a model: shared by `generate` and `inspect`.
#[derive(clap::Args)]
struct ModelArgs {
    /// A directory of templates for custom layers (DIR/<domain>/<Op>.rs.tera) and
    /// overrides of built-in kernels (DIR/<Op>.rs.tera).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// A static shape for a graph input with dynamic axes, e.g. `input=1,3,32,32`
    /// (repeat for several inputs).
    #[arg(long, value_name = "NAME=D0,D1,...", value_parser = parse_input_shape)]
    input_shape: Vec<(String, Vec<usize>)>,
    /// Scales that are not powers of two and nonzero zero points: `exact` refuses them
    /// (listing every one), `snap` rounds them to powers of two.
    #[arg(long, value_enum, default_value_t = Scales::Exact)]
    scales: Scales,
    /// How `--scales snap` rounds log2(scale): `nearest` (default), or `ceil` so that
    /// nothing clips.
    #[arg(long, value_enum, value_name = "RULE")]
    snap: Option<Snap>,
    /// How ties round in the integer pipeline: half-even is bit-exact with ONNX Runtime and
    /// PyTorch; half-up matches ESP-DL's ESP32-S3 kernels (and ESP-PPQ's esp32s3 simulation).
    #[arg(long, value_enum, default_value_t = RoundingArg::HalfEven)]
    rounding: RoundingArg,
}

impl ModelArgs {
    /// The options these flags give, for `subcommand` (which names the usage in errors).
    fn options(self, subcommand: &str) -> onnx2esp::Options {
        onnx2esp::Options {
            templates: self.templates,
            input_shapes: self.input_shape.into_iter().collect(),
            scales: scale_policy(self.scales, self.snap, subcommand),
            rounding: self.rounding.into(),
            ..Default::default()
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Scales {
    Exact,
    Snap,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Snap {
    Nearest,
    Ceil,
}

/// The policy of `--scales` and `--snap`; `--snap` without `--scales snap` is a usage error
/// rather than silently ignored.
fn scale_policy(scales: Scales, snap: Option<Snap>, subcommand: &str) -> onnx2esp::ScalePolicy {
    use onnx2esp::{ScalePolicy, SnapRule};
    match (scales, snap) {
        (Scales::Exact, None) => ScalePolicy::Exact,
        (Scales::Exact, Some(_)) => usage_error(
            subcommand,
            clap::error::ErrorKind::ArgumentConflict,
            "--snap chooses how --scales snap rounds; add --scales snap",
        ),
        (Scales::Snap, None | Some(Snap::Nearest)) => ScalePolicy::Snap(SnapRule::Nearest),
        (Scales::Snap, Some(Snap::Ceil)) => ScalePolicy::Snap(SnapRule::Ceil),
    }
}

/// Exits with a clap usage error shown with the usage line of `subcommand`.
fn usage_error(subcommand: &str, kind: clap::error::ErrorKind, message: &str) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let command = cli
        .find_subcommand_mut(subcommand)
        .expect("the subcommand exists");
    command.error(kind, message).exit()
}

/// `--rounding` values, mapped onto [`onnx2esp::Rounding`].
#[derive(Clone, Copy, clap::ValueEnum)]
enum RoundingArg {
    HalfEven,
    HalfUp,
}

impl From<RoundingArg> for onnx2esp::Rounding {
    fn from(arg: RoundingArg) -> Self {
        match arg {
            RoundingArg::HalfEven => onnx2esp::Rounding::HalfEven,
            RoundingArg::HalfUp => onnx2esp::Rounding::HalfUp,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> onnx2esp::Result<ExitCode> {
    match command {
        Command::Generate {
            model,
            output,
            check,
            model_args,
            max_ram,
            max_flash,
            arena_section,
            unroll,
            target_cpu,
            weights_file_threshold,
            inline_weights,
            dump_context,
            max_code,
            embed_tests,
            test_inputs,
            test_outputs,
        } => {
            let mut builder = onnx2esp::Builder::new(&model)
                .options(model_args.options("generate"))
                .rerun_if_changed(false)
                .budget(onnx2esp::Budget { max_ram, max_flash })
                .max_code(max_code)
                .target_cpu(target_cpu);
            if let Some(unroll) = unroll {
                builder = builder.unroll(unroll as usize);
            }
            if let Some(section) = &arena_section {
                builder = builder.arena_link_section(section);
            }
            if let (Some(count), Some(inputs), Some(outputs)) =
                (embed_tests, &test_inputs, &test_outputs)
            {
                builder = builder.embed_tests(count as usize, inputs, outputs);
            }
            builder =
                builder.weights_file_threshold((!inline_weights).then_some(weights_file_threshold));
            // `-o -` is stdout, as for most tools.
            let output = output.filter(|path| path.as_os_str() != "-");
            if output.is_none() {
                if check {
                    usage_error(
                        "generate",
                        clap::error::ErrorKind::ArgumentConflict,
                        "--check compares a file on disk; -o - is stdout",
                    );
                }
                if weights_file_threshold != onnx2esp::DEFAULT_WEIGHTS_FILE_THRESHOLD {
                    usage_error(
                        "generate",
                        clap::error::ErrorKind::ArgumentConflict,
                        "--weights-file-threshold needs a module file: stdout keeps every weight inline",
                    );
                }
            }
            if let Some(node) = dump_context {
                return dump_template_context(&builder, &node);
            }
            match (output, check) {
                // stdout carries one file: the module with every weight inline.
                (None, _) => print_out(&builder.generate_string()?)?,
                (Some(path), true) => {
                    let stale = builder.output(&path).check()?;
                    for file in &stale {
                        eprintln!("{file}");
                    }
                    if !stale.is_empty() {
                        return Ok(ExitCode::from(1));
                    }
                    eprintln!("{} is up to date", path.display());
                }
                (Some(path), false) => report_written(&builder.output(&path).generate_written()?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect {
            model,
            format,
            inputs,
            samples,
            seed,
            reference,
            model_args,
        } => {
            let options = model_args.options("inspect");
            let inputs = match inputs {
                Some(path) => onnx2esp::inspect::Inputs::File(path),
                None => onnx2esp::inspect::Inputs::Random {
                    count: samples,
                    seed,
                },
            };
            let (bytes, file_name) = onnx2esp::read_model(&model)?;
            let reference = match &reference {
                Some(path) => Some(onnx2esp::read_model(path)?),
                None => None,
            };
            let reference = reference
                .as_ref()
                .map(|(bytes, name)| (bytes.as_slice(), name.as_str()));
            let report =
                onnx2esp::inspect::inspect(&bytes, &file_name, &options, &inputs, reference)?;
            match format {
                Format::Table => print_out(&report.to_table())?,
                Format::Json => print_out(&format!("{}\n", report.to_json()))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rewrite {
            model,
            output,
            model_args,
        } => rewrite(&model, &output, model_args),
        Command::Compare {
            model,
            inputs,
            reference,
            tolerance,
            model_args,
        } => {
            let options = model_args.options("compare");
            let found = onnx2esp::compare::compare(
                &model,
                reference.as_deref(),
                &inputs,
                &options,
                tolerance,
            )?;
            print_out(&found.to_text())?;
            Ok(if found.first_difference.is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// `onnx2esp rewrite`: writes the rewritten model and says what snapping changed.
fn rewrite(
    model: &std::path::Path,
    output: &std::path::Path,
    model_args: ModelArgs,
) -> onnx2esp::Result<ExitCode> {
    let (bytes, file_name) = onnx2esp::read_model(model)?;
    let (rewritten, scales) =
        onnx2esp::rewrite_model(&bytes, &file_name, &model_args.options("rewrite"))?;
    std::fs::write(output, rewritten).map_err(|source| onnx2esp::Error::Write {
        path: output.to_path_buf(),
        source,
    })?;
    for tensor in scales.changed() {
        let saturated = tensor
            .saturated
            .map(|share| format!(", {:.2}% of its values saturate", 100.0 * share))
            .unwrap_or_default();
        eprintln!(
            "{}: {:?}, exponents {:?}, largest scale change {:.1}%{saturated}",
            tensor.tensor,
            tensor.changes,
            tensor.exponents,
            100.0 * tensor.max_relative_error()
        );
    }
    eprintln!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}

/// `generate --dump-context NODE`: the layer's template context on stdout.
fn dump_template_context(builder: &onnx2esp::Builder, node: &str) -> onnx2esp::Result<ExitCode> {
    println!("{}", builder.template_context(node)?);
    Ok(ExitCode::SUCCESS)
}

/// An error on stderr, with whatever the model put in names made safe for the terminal.
fn report_error(error: &onnx2esp::Error) {
    eprintln!(
        "error: {}",
        onnx2esp::error::terminal_safe(&error.to_string())
    );
}

/// Writes to stdout; a closed pipe (`| head`) ends the output quietly, as the reader asked.
fn print_out(text: &str) -> onnx2esp::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.map_err(|source| onnx2esp::Error::Write {
            path: "stdout".into(),
            source,
        }),
    }
}

/// The files a generation consists of: the module, and its weights file when it has one.
fn report_written(written: &onnx2esp::Written) {
    eprintln!("wrote {}", written.module.display());
    if let Some(weights) = &written.weights {
        eprintln!("wrote {}", weights.display());
    }
    if let Some(removed) = &written.removed {
        eprintln!(
            "removed {}, which the module no longer reads",
            removed.display()
        );
    }
}

/// `NAME=1,3,32,32` → (NAME, [1, 3, 32, 32]).
fn parse_input_shape(text: &str) -> Result<(String, Vec<usize>), String> {
    let (name, dims) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("expected NAME=D0,D1,..., found '{text}'"))?;
    let dims = dims
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .ok()
                .filter(|&d| d > 0)
                .ok_or_else(|| format!("'{d}' is not a positive dimension"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name.to_string(), dims))
}
