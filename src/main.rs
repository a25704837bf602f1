//! The onnx2esp command line: a thin layer over [`onnx2esp::Builder`].

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Compile power-of-two quantized ONNX models into no_std Rust"
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
        /// Where to write the module (stdout when absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Write nothing; exit 1 with a diff when OUTPUT differs from what would be generated.
        #[arg(long, requires = "output")]
        check: bool,
        /// A directory of templates for custom layers (DIR/<domain>/<Op>.rs.tera) and
        /// overrides of built-in kernels (DIR/<Op>.rs.tera).
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// A static shape for a graph input with dynamic axes, e.g. `input=1,3,32,32`
        /// (repeat for several inputs).
        #[arg(long, value_name = "NAME=D0,D1,...", value_parser = parse_input_shape)]
        input_shape: Vec<(String, Vec<usize>)>,
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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
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
            templates,
            input_shape,
            max_ram,
            max_flash,
            arena_section,
        } => {
            let mut builder = onnx2esp::Builder::new(&model)
                .rerun_if_changed(false)
                .budget(onnx2esp::Budget { max_ram, max_flash });
            if let Some(dir) = templates {
                builder = builder.templates(dir);
            }
            for (name, dims) in &input_shape {
                builder = builder.input_shape(name, dims);
            }
            if let Some(section) = &arena_section {
                builder = builder.arena_link_section(section);
            }
            match (output, check) {
                (None, _) => print!("{}", builder.generate_string()?),
                (Some(path), true) => {
                    let code = builder.generate_string()?;
                    let current = std::fs::read_to_string(&path).unwrap_or_default();
                    if current != code {
                        let diff = similar::TextDiff::from_lines(&current, &code)
                            .unified_diff()
                            .header(&path.display().to_string(), "generated")
                            .to_string();
                        eprintln!("{}", onnx2esp::Error::Stale { path, diff });
                        return Ok(ExitCode::from(1));
                    }
                    eprintln!("{} is up to date", path.display());
                }
                (Some(path), false) => {
                    let written = builder.output(&path).generate()?;
                    eprintln!("wrote {}", written.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
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
