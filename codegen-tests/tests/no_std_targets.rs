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

/// "Never panics", seen in the binary: every fixture's module, built for riscv32imc as one
/// object at opt-level 3, `s` and `z`, reaches no panic. The object's call graph (its
/// functions' relocations) is followed from each fixture's functions; a path to an undefined
/// symbol of core's panic machinery (`core::panicking::*`, `*_fail`, `*_failed`) is a panic
/// path, reported with the fixture and the chain of functions.
#[test]
fn no_fixture_module_has_a_panic_path_at_opt_levels_3_s_and_z() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = "riscv32imc-unknown-none-elf";
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut failures = Vec::new();
    for opt in ["3", "s", "z"] {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("panic_paths_{opt}"));
        std::fs::create_dir_all(&out).expect("create output directory");
        let object = out.join("codegen_tests.o");
        let result = Command::new(&rustc)
            .args(["--crate-name", "codegen_tests", "--crate-type", "lib"])
            .args(["--edition", "2021", "--target", target, "--emit=obj"])
            .args(["-C", &format!("opt-level={opt}"), "-C", "codegen-units=1"])
            .arg("-o")
            .arg(&object)
            .arg(manifest.join("src/lib.rs"))
            .env("OUT_DIR", env!("OUT_DIR"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {rustc}: {e}"));
        assert!(
            result.status.success(),
            "build for {target} at opt-level {opt} failed (`rustup target add {target}`?):\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
        let data = std::fs::read(&object).expect("read the object");
        let paths = panic_paths(&data);
        println!(
            "opt-level {opt}: {} of the fixtures' functions reach a panic",
            paths.len()
        );
        failures.extend(paths.into_iter().map(|p| format!("opt-level {opt}: {p}")));
    }
    assert!(failures.is_empty(), "panic paths:\n{}", failures.join("\n"));
}

/// Whether a symbol belongs to core's panic machinery.
fn is_panic(name: &str) -> bool {
    name.contains("panic") || name.contains("_fail")
}

/// The path of a legacy-mangled Rust symbol (`_ZN13codegen_tests5digits3run17h..E` →
/// `codegen_tests::digits::run`), else the name as is.
fn demangle(name: &str) -> String {
    let Some(mut rest) = name.strip_prefix("_ZN") else {
        return name.to_string();
    };
    let mut parts = Vec::new();
    while let Some(len_end) = rest.find(|c: char| !c.is_ascii_digit()).filter(|&i| i > 0) {
        let Ok(len) = rest[..len_end].parse::<usize>() else {
            break;
        };
        let Some(part) = rest.get(len_end..len_end + len) else {
            break;
        };
        // The trailing hash.
        if !(part.starts_with('h') && part.len() == 17) {
            parts.push(part.to_string());
        }
        rest = &rest[len_end + len..];
    }
    parts.join("::")
}

/// For each function of a fixture module that reaches a panic symbol: `fixture: function ->
/// ... -> panic symbol`.
fn panic_paths(data: &[u8]) -> Vec<String> {
    use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SymbolSection};
    use std::collections::{BTreeMap, BTreeSet};
    let file = object::File::parse(data).expect("parse the object");
    // Section → the symbols its code refers to; defined symbol → its section.
    let mut refers: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for section in file.sections() {
        for (_, relocation) in section.relocations() {
            if let RelocationTarget::Symbol(symbol) = relocation.target() {
                refers
                    .entry(section.index().0)
                    .or_default()
                    .insert(symbol.0);
            }
        }
    }
    let mut names = BTreeMap::new();
    let mut section_of = BTreeMap::new();
    let mut panics = BTreeSet::new();
    for symbol in file.symbols() {
        let name = symbol.name().unwrap_or("").to_string();
        if symbol.is_undefined() && is_panic(&name) {
            panics.insert(symbol.index().0);
        }
        if let SymbolSection::Section(section) = symbol.section() {
            section_of.insert(symbol.index().0, section.0);
        }
        names.insert(symbol.index().0, name);
    }
    // A section symbol names its own section: relocations often target those.
    let mut found = Vec::new();
    for (&symbol, name) in &names {
        let path = demangle(name);
        let Some(fixture) = path.strip_prefix("codegen_tests::") else {
            continue;
        };
        let Some(&start) = section_of.get(&symbol) else {
            continue;
        };
        // Breadth-first over sections, remembering how each was reached.
        let mut reached: BTreeMap<usize, Option<usize>> = BTreeMap::from([(start, None)]);
        let mut queue = std::collections::VecDeque::from([start]);
        let mut hit = None;
        'search: while let Some(section) = queue.pop_front() {
            for &target in refers.get(&section).into_iter().flatten() {
                if panics.contains(&target) {
                    hit = Some((section, target));
                    break 'search;
                }
                if let Some(&next) = section_of.get(&target) {
                    if !reached.contains_key(&next) {
                        reached.insert(next, Some(section));
                        queue.push_back(next);
                    }
                }
            }
        }
        if let Some((mut section, target)) = hit {
            let section_name = |index: usize| {
                file.section_by_index(object::SectionIndex(index))
                    .ok()
                    .and_then(|s| {
                        s.name()
                            .ok()
                            .map(|n| demangle(n.trim_start_matches(".text.")))
                    })
                    .unwrap_or_default()
            };
            let mut chain = vec![demangle(&names[&target])];
            while let Some(&Some(previous)) = reached.get(&section) {
                chain.push(section_name(section));
                section = previous;
            }
            chain.push(section_name(section));
            chain.reverse();
            found.push(format!("{fixture}: {}", chain.join(" -> ")));
        }
    }
    found
}
