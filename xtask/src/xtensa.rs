//! LLVM IR for Xtensa, as the Xtensa runner builds it (docs/xtensa.md): stock rustc has no
//! Xtensa target, so rustc's riscv32imc IR is retargeted and compiled by LLVM 22's Xtensa
//! backend. Shared by the panic-path check and codegen-tests' Xtensa runner test.

use crate::panic_check::tool_output;
use std::path::Path;

/// LLVM's Xtensa backend and assembler.
pub const LLC: &str = "llc-22";
pub const LLVM_MC: &str = "llvm-mc-22";
const DATALAYOUT: &str = "e-m:e-p:32:32-v1:8:8-i64:64-i128:128-n32";

/// rustc's riscv32imc IR as Xtensa IR: Xtensa's triple and data layout, without the riscv
/// CPU attributes and the embedded bitcode. Both are 32-bit little-endian, so the IR's
/// layouts carry over (docs/xtensa.md).
pub fn retarget(ir: &str) -> String {
    let mut xtensa = String::with_capacity(ir.len());
    for line in ir.lines() {
        if line.starts_with("module asm ") {
            continue;
        }
        if line.starts_with("target datalayout") {
            xtensa.push_str(&format!("target datalayout = \"{DATALAYOUT}\""));
        } else if line.starts_with("target triple") {
            xtensa.push_str("target triple = \"xtensa\"");
        } else if line.starts_with("attributes #") {
            xtensa.push_str(&drop_attribute(
                &drop_attribute(line, "\"target-cpu\""),
                "\"target-features\"",
            ));
        } else {
            xtensa.push_str(line);
        }
        xtensa.push('\n');
    }
    xtensa
}

/// `line` without the string attribute `key="..."`.
fn drop_attribute(line: &str, key: &str) -> String {
    let Some(start) = line.find(&format!("{key}=\"")) else {
        return line.to_owned();
    };
    let value = start + key.len() + 2;
    match line[value..].find('"') {
        Some(end) => format!("{}{}", &line[..start], &line[value + end + 1..]),
        None => line.to_owned(),
    }
}

/// Compiles Xtensa IR to an object as the Xtensa runner does: `llc-22 -mcpu=esp32` (less
/// MUL32_HIGH, which qemu's cores lack) to assembly, `.p2align 2` before each literal pool
/// (llc leaves them unaligned and `l32r` needs 4 bytes), then `llvm-mc-22`. `extra` goes to
/// llc.
pub fn compile(ll: &Path, object: &Path, extra: &[&str]) -> Result<(), String> {
    let asm = object.with_extension("s");
    let mut args: Vec<&std::ffi::OsStr> = ["-mtriple=xtensa", "-mcpu=esp32", "-mattr=-mul32high"]
        .iter()
        .chain(extra)
        .map(std::ffi::OsStr::new)
        .collect();
    args.extend([
        "-O3".as_ref(),
        ll.as_os_str(),
        "-o".as_ref(),
        asm.as_os_str(),
    ]);
    tool_output(LLC, &args, "apt-get install llvm-22")?;
    let text = std::fs::read_to_string(&asm).map_err(|e| format!("{}: {e}", asm.display()))?;
    let mut fixed = String::with_capacity(text.len() + 4096);
    for line in text.lines() {
        if line.trim_start().starts_with(".literal_position") {
            fixed.push_str("\t.p2align\t2\n");
        }
        fixed.push_str(line);
        fixed.push('\n');
    }
    std::fs::write(&asm, fixed).map_err(|e| format!("{}: {e}", asm.display()))?;
    let args: Vec<&std::ffi::OsStr> = vec![
        "-triple=xtensa".as_ref(),
        "-mcpu=esp32".as_ref(),
        "-filetype=obj".as_ref(),
        asm.as_os_str(),
        "-o".as_ref(),
        object.as_os_str(),
    ];
    tool_output(LLVM_MC, &args, "apt-get install llvm-22").map(drop)
}
