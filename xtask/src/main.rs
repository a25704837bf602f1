//! `cargo xtask test [ARGS]`: makes sure this machine has what the test suite needs, then runs
//! `cargo test --workspace [ARGS]`. `cargo xtask setup` only installs.
//!
//! What the suite needs beyond the Rust toolchain:
//! - rustup targets for the no_std builds and the riscv32 runner, clippy for the lint of the
//!   generated code, and nightly's `rust-src` for the Xtensa runner (`-Zbuild-std`);
//! - Debian packages: `qemu-system-misc` (qemu-system-riscv32 and qemu-system-xtensa),
//!   `llvm-22` (llc-22, llvm-mc-22 and llvm-extract-22, the Xtensa backend),
//!   `binutils-xtensa-lx106` (the Xtensa linker) and `time` (peak memory of the corpus runs).
//!
//! Rustup steps are idempotent and run only for what is missing; nothing here updates or
//! changes a toolchain. Debian packages are installed with apt-get when running as root, and
//! otherwise named in an error with the command to run.

use std::process::{Command, ExitCode};

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
        _ => {
            eprintln!(
                "usage: cargo xtask test [CARGO TEST ARGS]   install what the tests need, then run them\n       \
                 cargo xtask setup                       only install"
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
