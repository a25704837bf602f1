//! The no_std proof: this crate's own `src/lib.rs` (`#![no_std]`, `#![forbid(unsafe_code)]`,
//! every generated module included) is compiled by rustc for two bare-metal MCU targets, with
//! warnings denied, and the riscv build goes through clippy (`clippy-driver`, which takes
//! rustc's arguments), so generated code stays clean in users' crates too. Calling the
//! compiler directly reuses the modules build.rs generated instead of rebuilding the
//! generator for each target. Needs `rustup target add` for both targets and the clippy
//! component.

use std::path::Path;
use std::process::Command;

fn build_for(target: &str, compiler: &str) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(target);
    std::fs::create_dir_all(&out).expect("create output directory");
    let rustc = compiler.to_string();
    let result = Command::new(&rustc)
        .args([
            "--crate-name",
            "codegen_tests",
            "--crate-type",
            "rlib",
            "--edition",
            "2021",
        ])
        .args(["--target", target, "-C", "opt-level=s", "-D", "warnings"])
        .arg("--out-dir")
        .arg(&out)
        .arg(manifest.join("src/lib.rs"))
        // The generated modules are included from OUT_DIR, as in the cargo build.
        .env("OUT_DIR", env!("OUT_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {rustc}: {e}"));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "no_std build for {target} with {rustc} failed (is the target installed? `rustup target add {target}`; clippy: `rustup component add clippy`):\n{stderr}"
    );
    let rlib = out.join("libcodegen_tests.rlib");
    let size = std::fs::metadata(&rlib).map(|m| m.len()).unwrap_or(0);
    println!(
        "{target}: built {} ({size} bytes, all fixtures, opt-level=s)",
        rlib.display()
    );
}

#[test]
fn generated_modules_build_for_riscv32imc_clippy_clean() {
    build_for("riscv32imc-unknown-none-elf", "clippy-driver");
}

#[test]
fn generated_modules_build_for_thumbv7em() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    build_for("thumbv7em-none-eabihf", &rustc);
}
