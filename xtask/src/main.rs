//! `cargo xtask test [ARGS]`: makes sure this machine has what the test suite needs, then runs
//! `cargo test --workspace [ARGS]`. `cargo xtask setup` only installs.
//! `cargo xtask panic-check MODULE.rs [--opt 3|s|z]... [--xtensa]`: lists the panic paths of a
//! generated module (see `xtask::panic_check`); exits 1 when there is one.
//!
//! What the suite needs beyond the Rust toolchain:
//! - rustup targets for the no_std builds and the riscv32 runner, clippy for the lint of the
//!   generated code, and nightly's `rust-src` for the Xtensa runner (`-Zbuild-std`);
//! - Debian packages: `qemu-system-misc` (qemu-system-riscv32 and qemu-system-xtensa),
//!   `llvm-22` (llc-22, llvm-mc-22 and llvm-extract-22, the Xtensa backend),
//!   `binutils-xtensa-lx106` (the Xtensa linker), `binutils` (`nm` and `c++filt`, the
//!   panic-path check) and `time` (peak memory of the corpus runs).
//!
//! Rustup steps are idempotent and run only for what is missing; nothing here updates or
//! changes a toolchain. Debian packages are installed with apt-get when running as root, and
//! otherwise named in an error with the command to run.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use xtask::panic_check;

const TARGETS: &[&str] = &["riscv32imc-unknown-none-elf", "thumbv7em-none-eabihf"];
const COMPONENTS: &[&str] = &["clippy"];
/// `(program, Debian package)`: the package that provides each program the tests run.
const PROGRAMS: &[(&str, &str)] = &[
    ("qemu-system-riscv32", "qemu-system-misc"),
    ("qemu-system-xtensa", "qemu-system-misc"),
    ("llc-22", "llvm-22"),
    ("llvm-mc-22", "llvm-22"),
    ("llvm-extract-22", "llvm-22"),
    ("xtensa-lx106-elf-ld", "binutils-xtensa-lx106"),
    // The panic-path check lists undefined symbols and demangles them.
    ("nm", "binutils"),
    ("c++filt", "binutils"),
    // The hostile-model corpus test measures each run's peak memory with /usr/bin/time.
    ("time", "time"),
];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("test") => setup().and_then(|()| test(&rest)),
        Some("setup") => setup().map(|()| ExitCode::SUCCESS),
        Some("panic-check") => panic_check_command(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask test [CARGO TEST ARGS]   install what the tests need, then run them\n       \
                 cargo xtask setup                       only install\n       \
                 cargo xtask panic-check MODULE.rs [--opt 3|s|z]... [--xtensa]\n                                               \
                 list a generated module's panic paths (default: opt-levels 3, s and z)"
            );
            return ExitCode::from(2);
        }
    };
    result.unwrap_or_else(|message| {
        eprintln!("xtask: {message}");
        ExitCode::from(2)
    })
}

fn setup() -> Result<(), String> {
    rustup_targets()?;
    rustup_components()?;
    nightly_rust_src()?;
    debian_packages()
}

/// `cargo test --workspace` with the user's extra arguments, with this cargo.
fn test(extra: &[String]) -> Result<ExitCode, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask: cargo test --workspace {}", extra.join(" "));
    let status = Command::new(&cargo)
        .args(["test", "--workspace"])
        .args(extra)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// `panic-check MODULE.rs [--opt LEVEL]... [--xtensa]`: builds the module as a no_std lib for
/// riscv32imc at each opt-level (and for Xtensa with `--xtensa`) and prints every panic path
/// with the functions that reach it. Exit status 1 when there is one.
fn panic_check_command(args: &[String]) -> Result<ExitCode, String> {
    let mut module: Option<PathBuf> = None;
    let mut opts: Vec<String> = Vec::new();
    let mut xtensa = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--opt" => {
                let level = args.next().ok_or("--opt needs a level: 3, s or z")?;
                if !panic_check::OPT_LEVELS.contains(&level.as_str()) {
                    return Err(format!("--opt {level}: the levels are 3, s and z"));
                }
                opts.push(level.clone());
            }
            "--xtensa" => xtensa = true,
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
            _ if module.is_none() => module = Some(PathBuf::from(arg)),
            _ => return Err(format!("one module at a time ({arg})")),
        }
    }
    let module =
        module.ok_or("usage: cargo xtask panic-check MODULE.rs [--opt 3|s|z]... [--xtensa]")?;
    if opts.is_empty() {
        opts = panic_check::OPT_LEVELS
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    let work_dir =
        std::env::temp_dir().join(format!("onnx2esp-panic-check-{}", std::process::id()));
    let root = panic_check::wrap_module(&module, &work_dir)?;
    let krate = panic_check::Crate {
        root: &root,
        name: "panic_check_module",
        work_dir: &work_dir,
        env: Vec::new(),
    };
    let mut found = 0;
    for opt in &opts {
        let checked = panic_check::check(&krate, opt, xtensa);
        let paths = match checked {
            Ok(checked) if checked.runs == 1 => checked.paths,
            Ok(_) => {
                let _ = std::fs::remove_dir_all(&work_dir);
                return Err(format!(
                    "{}: no Model::run compiled; is it a generated module?",
                    module.display()
                ));
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&work_dir);
                return Err(e);
            }
        };
        let isas = if xtensa {
            "riscv32imc and xtensa"
        } else {
            "riscv32imc"
        };
        println!("opt-level {opt} ({isas}): {} panic paths", paths.len());
        for path in &paths {
            println!("  {path}");
        }
        found += paths.len();
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    Ok(if found == 0 {
        println!("{}: no panic paths", module.display());
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs a command and returns its stdout; `Err` names the command when it cannot run or fails.
fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("xtask: {program} {}", args.join(" "));
    output(program, args).map(drop)
}

fn rustup_targets() -> Result<(), String> {
    let installed = output("rustup", &["target", "list", "--installed"])?;
    let missing: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|line| line.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut args = vec!["target", "add"];
    args.extend(missing);
    run("rustup", &args)
}

fn rustup_components() -> Result<(), String> {
    let installed = output("rustup", &["component", "list", "--installed"])?;
    for component in COMPONENTS {
        if !installed.lines().any(|line| line.starts_with(component)) {
            run("rustup", &["component", "add", component])?;
        }
    }
    Ok(())
}

/// The Xtensa runner compiles `core` from source with nightly. A machine without a nightly
/// toolchain is told so by that test; this installs no toolchain.
fn nightly_rust_src() -> Result<(), String> {
    let toolchains = output("rustup", &["toolchain", "list"])?;
    if !toolchains.lines().any(|line| line.starts_with("nightly")) {
        eprintln!("xtask: no nightly toolchain: the Xtensa runner test will say what it needs");
        return Ok(());
    }
    let installed = output(
        "rustup",
        &["component", "list", "--installed", "--toolchain", "nightly"],
    )?;
    if installed.lines().any(|line| line.starts_with("rust-src")) {
        return Ok(());
    }
    run(
        "rustup",
        &["component", "add", "rust-src", "--toolchain", "nightly"],
    )
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn debian_packages() -> Result<(), String> {
    let mut missing: Vec<&str> = PROGRAMS
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|&(_, package)| package)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    let is_root = output("id", &["-u"]).is_ok_and(|uid| uid.trim() == "0");
    if !is_root || !on_path("apt-get") {
        return Err(format!(
            "the tests need the Debian packages {} (run as root: `apt-get update && {install}`)",
            missing.join(", ")
        ));
    }
    run("apt-get", &["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    // Non-interactive: no debconf prompt can stop an unattended run.
    eprintln!("xtask: apt-get {}", args.join(" "));
    let status = Command::new("apt-get")
        .args(&args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if !status.success() {
        return Err(format!("`{install}` failed"));
    }
    Ok(())
}
