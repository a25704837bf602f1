//! "Never panics", checked in the binary. A crate (a generated module, or codegen-tests with
//! every fixture) is compiled by rustc for riscv32imc as a `no_std` lib, one object per
//! opt-level, and the object's undefined symbols are read with `nm`. Every kernel is inlined
//! or defined in the crate, so an undefined Rust symbol is a function of core that was not
//! inlined: its panic routines (`core::panicking::*`, `*_fail`), or a helper that reaches
//! them. Any such symbol is a panic path; C symbols (memcpy, soft-float) are not.
//!
//! With Xtensa, rustc's optimised LLVM IR of the same build is retargeted to Xtensa and
//! compiled by `llc-22`, as the Xtensa runner does (docs/xtensa.md), and that object is
//! checked the same way. Each panic path names the functions that call it, read from the IR.
//!
//! Used by `cargo xtask panic-check` and by codegen-tests' `no_std_targets` test.

use crate::xtensa;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every check compiles for (Xtensa: its IR, retargeted).
pub const TARGET: &str = "riscv32imc-unknown-none-elf";
/// The opt-levels a module must be free of panic paths at.
pub const OPT_LEVELS: [&str; 3] = ["3", "s", "z"];

/// The instruction sets a check covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Riscv32imc,
    /// LLVM 22's `esp32` CPU, from the riscv32imc IR.
    Xtensa,
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Isa::Riscv32imc => "riscv32imc",
            Isa::Xtensa => "xtensa",
        })
    }
}

/// One crate to check: its root file and crate name, where to build, and the environment
/// rustc needs (e.g. `OUT_DIR` for `include!`).
pub struct Crate<'a> {
    pub root: &'a Path,
    pub name: &'a str,
    pub work_dir: &'a Path,
    pub env: Vec<(String, std::ffi::OsString)>,
}

/// A panic path found in one build: the undefined symbol (demangled) and the crate's
/// functions that call it (demangled, from the IR).
#[derive(Debug)]
pub struct PanicPath {
    pub isa: Isa,
    pub opt: String,
    pub symbol: String,
    pub callers: Vec<String>,
}

impl std::fmt::Display for PanicPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} opt-level {}: {}", self.isa, self.opt, self.symbol)?;
        for caller in &self.callers {
            write!(f, "\n    called from {caller}")?;
        }
        Ok(())
    }
}

/// What one build showed: its panic paths, and how many modules' `Model::run` it compiled
/// (a check of an object without them would check nothing).
#[derive(Debug)]
pub struct Checked {
    pub paths: Vec<PanicPath>,
    pub runs: usize,
}

/// The panic paths of `krate` built at `opt` for riscv32imc and, with `xtensa`, for Xtensa.
pub fn check(krate: &Crate, opt: &str, xtensa: bool) -> Result<Checked, String> {
    std::fs::create_dir_all(krate.work_dir)
        .map_err(|e| format!("cannot create {}: {e}", krate.work_dir.display()))?;
    let base = krate.work_dir.join(format!("{}-opt-{opt}", krate.name));
    let object = base.with_extension("o");
    let ir = base.with_extension("ll");
    let mut emit = std::ffi::OsString::from("--emit=obj=");
    emit.push(&object);
    emit.push(",llvm-ir=");
    emit.push(&ir);
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let result = Command::new(&rustc)
        .args(["--crate-name", krate.name, "--crate-type", "lib"])
        .args(["--edition", "2021", "--target", TARGET])
        .args(["-C", &format!("opt-level={opt}"), "-C", "codegen-units=1"])
        .args(["-C", "panic=abort", "-C", "debuginfo=0"])
        .arg(emit)
        .arg(krate.root)
        .envs(krate.env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| format!("cannot run {rustc}: {e}"))?;
    if !result.status.success() {
        return Err(format!(
            "{} does not build for {TARGET} at opt-level {opt} (`rustup target add {TARGET}`?):\n{}",
            krate.root.display(),
            first_lines(&String::from_utf8_lossy(&result.stderr), 60)
        ));
    }
    let ir_text = std::fs::read_to_string(&ir).map_err(|e| format!("{}: {e}", ir.display()))?;
    let runs = tool_output(
        "nm",
        &["--defined-only".as_ref(), "-C".as_ref(), object.as_os_str()],
        "apt-get install binutils",
    )?
    .lines()
    .filter(|line| strip_crate_hashes(line).ends_with("::Model::run"))
    .count();
    let mut paths = panic_paths(Isa::Riscv32imc, opt, &object, &ir_text)?;
    if xtensa {
        let xtensa_ir = base.with_extension("xtensa.ll");
        std::fs::write(&xtensa_ir, xtensa::retarget(&ir_text))
            .map_err(|e| format!("{}: {e}", xtensa_ir.display()))?;
        let xtensa_object = base.with_extension("xtensa.o");
        xtensa::compile(&xtensa_ir, &xtensa_object, &[])?;
        paths.extend(panic_paths(Isa::Xtensa, opt, &xtensa_object, &ir_text)?);
    }
    Ok(Checked { paths, runs })
}

/// The panic paths of one object: its undefined Rust symbols, each with its callers in `ir`.
fn panic_paths(isa: Isa, opt: &str, object: &Path, ir: &str) -> Result<Vec<PanicPath>, String> {
    let listing = tool_output(
        "nm",
        &["-u".as_ref(), object.as_os_str()],
        "apt-get install binutils",
    )?;
    let callers = callers_in_ir(ir);
    Ok(listing
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .filter(|symbol| is_rust_symbol(symbol))
        .map(|symbol| PanicPath {
            isa,
            opt: opt.to_string(),
            symbol: demangle(&[symbol.to_string()]).remove(0),
            callers: demangle(callers.get(symbol).map_or(&[][..], Vec::as_slice)),
        })
        .collect())
}

/// The first `count` lines of `text`, and how many were left out.
fn first_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= count {
        return text.to_string();
    }
    format!(
        "{}\n... ({} more lines)",
        lines[..count].join("\n"),
        lines.len() - count
    )
}

/// Rust's mangling schemes (v0 and legacy); C symbols (memcpy, `__mulsi3`) have neither.
fn is_rust_symbol(symbol: &str) -> bool {
    symbol.starts_with("_R") || symbol.starts_with("_ZN")
}

/// For every function symbol the IR calls, the functions it defines that call it.
fn callers_in_ir(ir: &str) -> BTreeMap<String, Vec<String>> {
    let mut callers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<&str> = None;
    for line in ir.lines() {
        if line.starts_with("define ") {
            current = symbol_after_at(line);
            continue;
        }
        if line.starts_with('}') {
            current = None;
            continue;
        }
        let Some(caller) = current else { continue };
        for (i, _) in line.match_indices("@_") {
            if let Some(callee) = symbol_after_at(&line[i..]) {
                let list = callers.entry(callee.to_string()).or_default();
                if !list.iter().any(|c| c == caller) {
                    list.push(caller.to_string());
                }
            }
        }
    }
    callers
}

/// The symbol of the first `@name` in `text` (quoted names included).
fn symbol_after_at(text: &str) -> Option<&str> {
    let rest = &text[text.find('@')? + 1..];
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|s| !s.is_empty())
}

/// Demangled with binutils' `c++filt` (Rust v0 and legacy); as they are when it is missing.
fn demangle(symbols: &[String]) -> Vec<String> {
    if symbols.is_empty() {
        return Vec::new();
    }
    let output = Command::new("c++filt").args(symbols).output();
    match output {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let names: Vec<String> = text.lines().map(strip_crate_hashes).collect();
            if names.len() == symbols.len() {
                names
            } else {
                symbols.to_vec()
            }
        }
        _ => symbols.to_vec(),
    }
}

/// `core[294cd3bb5e293240]::panicking::panic::h0123456789abcdef` as `core::panicking::panic`.
fn strip_crate_hashes(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(at)
            if name.len() - at == 19 && name[at + 3..].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            &name[..at]
        }
        _ => name,
    };
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']').map(|c| open + c);
        match close {
            Some(close) if rest[open + 1..close].chars().all(|c| c.is_ascii_hexdigit()) => {
                out.push_str(&rest[..open]);
                rest = &rest[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Writes a `no_std` lib crate around the generated module `module` into `work_dir`, the
/// way a firmware includes it, and returns its root. A function that is never inlined takes
/// the addresses of `Model::run` and `Model::predict`, so that both are compiled even where
/// rustc would only mark them inlinable (small functions of a lib), and everything they
/// reach is checked.
pub fn wrap_module(module: &Path, work_dir: &Path) -> Result<PathBuf, String> {
    let module = module
        .canonicalize()
        .map_err(|e| format!("{}: {e}", module.display()))?;
    std::fs::create_dir_all(work_dir)
        .map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
    let root = work_dir.join("panic_check_module.rs");
    let text = format!(
        "#![no_std]
#![forbid(unsafe_code)]
pub mod module {{
    include!({:?});
}}

#[inline(never)]
pub fn panic_check_entry_points() -> [usize; 2] {{
    [
        module::Model::run as *const () as usize,
        module::Model::predict as *const () as usize,
    ]
}}
",
        module.display().to_string()
    );
    std::fs::write(&root, text).map_err(|e| format!("{}: {e}", root.display()))?;
    Ok(root)
}

/// Runs `program` and returns its stdout; `Err` names the package to install when it is
/// missing and has its stderr when it fails.
pub fn tool_output(
    program: &str,
    args: &[&std::ffi::OsStr],
    install: &str,
) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program} ({e}): `{install}`"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ir_callers_and_names() {
        let ir = "define internal void @_RNvCs1_3foo3bar(i32 %x) {\n  call void @_RNvNtCs2_4core9panicking5panic(ptr @alloc_1)\n  ret void\n}\n";
        let callers = callers_in_ir(ir);
        assert_eq!(
            callers["_RNvNtCs2_4core9panicking5panic"],
            vec!["_RNvCs1_3foo3bar".to_string()]
        );
        assert_eq!(
            strip_crate_hashes("core[294cd3bb5e293240]::panicking::panic"),
            "core::panicking::panic"
        );
        assert!(is_rust_symbol("_RNvNtCs2_4core9panicking5panic"));
        assert!(!is_rust_symbol("memcpy"));
    }
}
