//! The no_std proof: this crate's own `src/lib.rs` (`#![no_std]`, `#![forbid(unsafe_code)]`,
//! every generated module included) is compiled by rustc for two bare-metal MCU targets, with
//! warnings denied, and the riscv build goes through clippy (`clippy-driver`, which takes
//! rustc's arguments), so generated code stays clean in users' crates too. Calling the
//! compiler directly reuses the modules build.rs generated instead of rebuilding the
//! generator for each target. Needs `rustup target add` for both targets and the clippy
//! component.
//!
//! The same crate is then checked for panic paths at every opt-level (see
//! `no_fixture_module_has_a_panic_path_at_opt_levels_3_s_and_z`).

#[path = "common/modules.rs"]
mod modules;

use std::path::Path;
use std::process::Command;
use xtask::panic_check;

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

/// "Never panics", seen in the binary: every fixture's module (this crate's `src/lib.rs`,
/// built as one lib) references no function of core's panic machinery, nor any other core
/// function left out of line, at opt-level 3, `s` and `z`: for riscv32imc, and for Xtensa
/// from the same IR through `llc-22` (as the Xtensa runner builds it). The check is
/// `xtask::panic_check`, the one `cargo xtask panic-check MODULE.rs` runs for custom
/// templates.
#[test]
fn no_fixture_module_has_a_panic_path_at_opt_levels_3_s_and_z() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("src/lib.rs");
    let work_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("panic_paths");
    let krate = panic_check::Crate {
        root: &root,
        name: "codegen_tests",
        work_dir: &work_dir,
        env: vec![("OUT_DIR".into(), env!("OUT_DIR").into())],
    };
    let mut failures = Vec::new();
    for opt in panic_check::OPT_LEVELS {
        let checked = panic_check::check(&krate, opt, true).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "opt-level {opt}: {} modules' run compiled, {} panic paths (riscv32imc and xtensa)",
            checked.runs,
            checked.paths.len()
        );
        // Every module's `run` is in the object, so every kernel was looked at.
        assert_eq!(
            checked.runs,
            modules::MODULES.len() + codegen_tests::streaming::MODULES.len(),
            "opt-level {opt}: a module's run is not in the object"
        );
        failures.extend(checked.paths.iter().map(ToString::to_string));
    }
    assert!(failures.is_empty(), "panic paths:\n{}", failures.join("\n"));
}

/// The check can fail: a module with a bounds check the optimiser cannot remove is reported
/// at every opt-level and on both instruction sets, with the function that holds it.
#[test]
fn the_panic_check_reports_a_bounds_check() {
    let work_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("panic_check_plant");
    std::fs::create_dir_all(&work_dir).expect("create output directory");
    let module = work_dir.join("planted.rs");
    std::fs::write(
        &module,
        "pub struct Model;\n\
         impl Model {\n    \
         pub fn run(&self, xs: &[i8; 16], i: usize) -> i8 {\n        xs[i]\n    }\n    \
         pub fn predict(&self) {}\n}\n",
    )
    .expect("write the planted module");
    let root = panic_check::wrap_module(&module, &work_dir).expect("wrap the module");
    let krate = panic_check::Crate {
        root: &root,
        name: "planted",
        work_dir: &work_dir,
        env: Vec::new(),
    };
    for opt in panic_check::OPT_LEVELS {
        let checked = panic_check::check(&krate, opt, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            checked.runs, 1,
            "opt-level {opt}: Model::run is not compiled"
        );
        for isa in [panic_check::Isa::Riscv32imc, panic_check::Isa::Xtensa] {
            let found: Vec<_> = checked.paths.iter().filter(|p| p.isa == isa).collect();
            assert!(
                found.iter().any(|p| p.symbol.contains("panic_bounds_check")
                    && p.callers.iter().any(|c| c.ends_with("Model::run"))),
                "{isa} opt-level {opt}: the bounds check in `run` is not reported: {found:?}"
            );
        }
    }
}
