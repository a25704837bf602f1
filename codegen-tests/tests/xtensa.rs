//! The generated modules on the ESP32-S3's instruction set, as far as free tools reach:
//! builds `xtensa-runner` (its own workspace; the checks are mcu-runner's) against the modules
//! this crate's build.rs generated, compiles it for Xtensa and runs it under qemu, and fails
//! unless
//! - the runner reports every fixture within tolerance of ONNX Runtime (it checks element by
//!   element and exits qemu with status 1 otherwise; 64 + EXCCAUSE on a CPU exception), and
//! - every int8 output it printed equals the same module's output on the host, bit for bit.
//!
//! The chain (stock rustc has no Xtensa target):
//! 1. nightly rustc with `-Zbuild-std` emits the runner's LLVM IR for riscv32imc (another
//!    32-bit little-endian target) after fat LTO, and compiler_builtins' IR;
//! 2. the IR is retargeted: Xtensa's triple and data layout, no riscv CPU attributes;
//! 3. `llc-22 -mcpu=esp32` (the LX6, whose scalar ISA the S3's LX7 shares) compiles it to
//!    assembly, `.p2align 2` goes before each literal pool (llc leaves them unaligned) and
//!    `llvm-mc-22` assembles it; the compiler_builtins routines the code calls are extracted
//!    and compiled the same way;
//! 4. binutils' `xtensa-lx106-elf-ld` links them with startup.s and xtensa-sim.ld;
//! 5. `qemu-system-xtensa -M sim -cpu de233_fpu -semihosting -icount shift=0` runs it;
//!    CCOUNT then counts executed instructions.
//!
//! Two departures from the S3, both in the core qemu offers: none of qemu's Xtensa cores has
//! the MUL32_HIGH option (`mulsh`/`muluh`), so llc is told `-mattr=-mul32high` (64-bit
//! products of 32-bit values take a few more instructions); `de233_fpu` is the core with an
//! FPU like the S3's (dc233c has none).
//!
//! Needs (Debian): `llvm-22`, `binutils-xtensa-lx106`, `qemu-system-misc`, and
//! `rustup toolchain install nightly && rustup +nightly component add rust-src`. Run with
//! `--nocapture` to see the instructions per inference and the section sizes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const QEMU: &str = "qemu-system-xtensa";
/// The target rustc emits the IR for.
const IR_TARGET: &str = "riscv32imc-unknown-none-elf";
const XTENSA_DATALAYOUT: &str = "e-m:e-p:32:32-v1:8:8-i64:64-i128:128-n32";
/// LLVM 22's Xtensa CPU, less what qemu's cores lack.
const LLC_CPU: [&str; 2] = ["-mcpu=esp32", "-mattr=-mul32high"];
const QEMU_CPU: &str = "de233_fpu";

/// A tool and the Debian package (or rustup step) that provides it.
struct Tool {
    name: &'static str,
    package: &'static str,
}

const LLC: Tool = Tool {
    name: "llc-22",
    package: "apt-get install -y llvm-22",
};
const LLVM_MC: Tool = Tool {
    name: "llvm-mc-22",
    package: "apt-get install -y llvm-22",
};
const LLVM_EXTRACT: Tool = Tool {
    name: "llvm-extract-22",
    package: "apt-get install -y llvm-22",
};
const LLVM_NM: Tool = Tool {
    name: "llvm-nm-22",
    package: "apt-get install -y llvm-22",
};
const LD: Tool = Tool {
    name: "xtensa-lx106-elf-ld",
    package: "apt-get install -y binutils-xtensa-lx106",
};
const SIZE: Tool = Tool {
    name: "xtensa-lx106-elf-size",
    package: "apt-get install -y binutils-xtensa-lx106",
};
const QEMU_TOOL: Tool = Tool {
    name: QEMU,
    package: "apt-get install -y qemu-system-misc",
};

fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("xtensa-runner")
}

/// Runs a tool to completion and returns its stdout; panics with the install hint when the
/// tool is missing and with its stderr when it fails.
fn run(tool: &Tool, args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(tool.name)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): install it (Debian/Ubuntu: `{}`)",
                tool.name, tool.package
            )
        });
    assert!(
        output.status.success(),
        "{} {:?} failed:\n{}",
        tool.name,
        args,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$(std::ffi::OsStr::new($a)),*] };
}

/// Step 1: the runner's and compiler_builtins' LLVM IR for riscv32imc.
fn build_ir() -> (PathBuf, PathBuf) {
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("xtensa-runner");
    let target_dir = work_dir().join("target");
    let args = [
        "+nightly",
        "build",
        "--release",
        "-Zbuild-std=core,compiler_builtins",
        "-Zbuild-std-features=compiler-builtins-mem",
        "--target",
        IR_TARGET,
        "--target-dir",
    ];
    println!(
        "building: cd {} && ONNX2ESP_GENERATED_DIR={} RUSTFLAGS=--emit=llvm-ir,link cargo {} {}",
        runner.display(),
        env!("OUT_DIR"),
        args.join(" "),
        target_dir.display()
    );
    let started = Instant::now();
    // `cargo` through rustup, so that `+nightly` selects the toolchain.
    let result = Command::new("cargo")
        .current_dir(&runner)
        .args(args)
        .arg(&target_dir)
        .env("ONNX2ESP_GENERATED_DIR", env!("OUT_DIR"))
        .env("RUSTFLAGS", "--emit=llvm-ir,link")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo (rustup's): {e}"));
    assert!(
        result.status.success(),
        "building xtensa-runner's IR failed. It needs the nightly toolchain and its rust-src \
         (`rustup toolchain install nightly && rustup +nightly component add rust-src`):\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    println!("built in {:.1?}", started.elapsed());
    let deps = target_dir.join(IR_TARGET).join("release/deps");
    (
        newest(&deps, "xtensa_runner-"),
        newest(&deps, "compiler_builtins-"),
    )
}

/// The most recently written `{prefix}*.ll` in `dir`.
fn newest(dir: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            if !(name.starts_with(prefix) && name.ends_with(".ll")) {
                return None;
            }
            Some((e.metadata().ok()?.modified().ok()?, e.path()))
        })
        .max()
        .unwrap_or_else(|| panic!("no {prefix}*.ll in {}", dir.display()))
        .1
}

/// Step 2: riscv32imc IR made Xtensa IR. Only the target lines and CPU attributes differ;
/// the embedded bitcode (`module asm` sections) is dropped.
fn retarget(ir: &Path, out: &Path) -> PathBuf {
    let text = std::fs::read_to_string(ir).unwrap_or_else(|e| panic!("{}: {e}", ir.display()));
    let mut xtensa = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("target datalayout") {
            xtensa.push_str(&format!("target datalayout = \"{XTENSA_DATALAYOUT}\"\n"));
        } else if line.starts_with("target triple") {
            xtensa.push_str("target triple = \"xtensa\"\n");
        } else if line.starts_with("module asm ") {
        } else if line.starts_with("attributes #") {
            xtensa.push_str(&drop_attribute(
                &drop_attribute(line, "\"target-cpu\""),
                "\"target-features\"",
            ));
            xtensa.push('\n');
        } else {
            xtensa.push_str(line);
            xtensa.push('\n');
        }
    }
    std::fs::write(out, xtensa).unwrap();
    out.to_owned()
}

/// `line` without the string attribute `key="..."`.
fn drop_attribute(line: &str, key: &str) -> String {
    let Some(start) = line.find(&format!("{key}=\"")) else {
        return line.to_owned();
    };
    let value = start + key.len() + 2;
    let end = value + line[value..].find('"').expect("closing quote");
    format!("{}{}", &line[..start], &line[end + 1..])
}

/// Step 3: LLVM IR to an Xtensa object, through assembly.
fn compile(ll: &Path, extra: &[&str]) -> PathBuf {
    let asm = ll.with_extension("s");
    let mut args: Vec<&std::ffi::OsStr> = vec!["-mtriple=xtensa".as_ref()];
    args.extend(LLC_CPU.iter().map(|a| std::ffi::OsStr::new(a)));
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(a)));
    args.extend([
        "-O3".as_ref(),
        ll.as_os_str(),
        "-o".as_ref(),
        asm.as_os_str(),
    ]);
    run(&LLC, &args);
    // llc places literal pools in the code without aligning them; l32r needs 4 bytes.
    let text = std::fs::read_to_string(&asm).unwrap();
    let mut fixed = String::with_capacity(text.len() + 4096);
    for line in text.lines() {
        if line.trim_start().starts_with(".literal_position") {
            fixed.push_str("\t.p2align\t2\n");
        }
        fixed.push_str(line);
        fixed.push('\n');
    }
    std::fs::write(&asm, fixed).unwrap();
    let obj = asm.with_extension("o");
    assemble(&asm, &obj);
    obj
}

fn assemble(asm: &Path, obj: &Path) {
    run(
        &LLVM_MC,
        args![
            "-triple=xtensa",
            "-mcpu=esp32",
            "-filetype=obj",
            asm,
            "-o",
            obj
        ],
    );
}

/// Symbols `objects` use and do not define.
fn undefined(objects: &[&Path]) -> Vec<String> {
    let mut defined = std::collections::BTreeSet::new();
    let mut used = std::collections::BTreeSet::new();
    for obj in objects {
        for line in run(&LLVM_NM, args![obj]).lines() {
            let mut words = line.split_whitespace().rev();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            if kind == "U" {
                used.insert(name.to_owned());
            } else {
                defined.insert(name.to_owned());
            }
        }
    }
    used.difference(&defined).cloned().collect()
}

/// The routines of compiler_builtins the runner calls (memcpy, 64-bit division, ...: llc
/// introduces the calls, so they are not in the IR), compiled for Xtensa. Not all of
/// compiler_builtins compiles with the Xtensa backend, hence only these.
fn builtins(runner: &Path, builtins_ll: &Path) -> PathBuf {
    // startup.s defines these.
    let runtime = ["runner_simcall", "runner_ccount", "runner_calibration"];
    let mut wanted: Vec<String> = Vec::new();
    let extracted = work_dir().join("builtins.ll");
    for _ in 0..8 {
        let mut objects = vec![runner];
        let obj;
        if !wanted.is_empty() {
            let mut args: Vec<String> = vec!["--recursive".into()];
            args.extend(wanted.iter().map(|f| format!("--func={f}")));
            args.extend([
                "-S".into(),
                builtins_ll.display().to_string(),
                "-o".into(),
                extracted.display().to_string(),
            ]);
            let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
            run(&LLVM_EXTRACT, &args);
            obj = compile(&extracted, &["-function-sections"]);
            objects.push(&obj);
        }
        let missing: Vec<String> = undefined(&objects)
            .into_iter()
            .filter(|s| !runtime.contains(&s.as_str()))
            .collect();
        if missing.is_empty() {
            if wanted.is_empty() {
                // Nothing to extract: an empty object keeps the link line the same.
                std::fs::write(&extracted, "target triple = \"xtensa\"\n").unwrap();
                return compile(&extracted, &[]);
            }
            return extracted.with_extension("o");
        }
        wanted.extend(missing);
    }
    panic!("compiler_builtins routines still missing after 8 rounds: {wanted:?}");
}

/// Steps 1 to 4: the runner's ELF.
fn build_runner() -> PathBuf {
    let dir = work_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let (runner_ir, builtins_ir) = build_ir();
    let started = Instant::now();
    let runner = compile(&retarget(&runner_ir, &dir.join("runner.ll")), &[]);
    let builtins = builtins(
        &runner,
        &retarget(&builtins_ir, &dir.join("compiler_builtins.ll")),
    );
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("xtensa-runner");
    let startup_obj = dir.join("startup.o");
    assemble(&source.join("startup.s"), &startup_obj);
    let elf = dir.join("xtensa-runner.elf");
    run(
        &LD,
        args![
            "-T",
            &source.join("xtensa-sim.ld"),
            "--no-warn-rwx-segments",
            &startup_obj,
            &runner,
            &builtins,
            "-o",
            &elf
        ],
    );
    println!(
        "compiled for Xtensa and linked in {:.1?}",
        started.elapsed()
    );
    elf
}

fn run_qemu(elf: &Path) -> (Option<i32>, String) {
    let args = [
        "-M",
        "sim",
        "-cpu",
        QEMU_CPU,
        "-nographic",
        "-monitor",
        "none",
        "-semihosting",
        // CCOUNT counts executed instructions only with -icount.
        "-icount",
        "shift=0",
    ];
    println!(
        "running: {QEMU} {} -kernel {}",
        args.join(" "),
        elf.display()
    );
    let log = work_dir().join("xtensa-runner.log");
    let file = std::fs::File::create(&log).expect("create the qemu log");
    let mut child = Command::new(QEMU)
        .args(args)
        .arg("-kernel")
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {QEMU}: {e}. Install it (Debian/Ubuntu: `{}`)",
                QEMU_TOOL.package
            )
        });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for qemu") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{QEMU} did not finish in 600 s; log: {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("qemu ran {:.1?}, {status}", started.elapsed());
    (
        status.code(),
        std::fs::read_to_string(&log).expect("read the qemu log"),
    )
}

#[test]
fn fixtures_run_on_xtensa_under_qemu() {
    // Fail loudly, not skip, when a tool is missing.
    for tool in [&LLC, &LLVM_MC, &LLVM_EXTRACT, &LLVM_NM, &QEMU_TOOL] {
        let first = run(tool, args!["--version"]);
        let first = first.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        println!("{}: {}", tool.name, first.trim());
    }
    run(&LD, args!["--version"]);

    let elf = build_runner();
    println!("{}", run(&SIZE, args!["-A", &elf]).trim_end());
    let (status, log) = run_qemu(&elf);

    let mcu = common::mcu::parse_outputs(&log);
    match status {
        Some(0) => {}
        Some(1) => panic!("the runner reported failures under qemu (exit status 1); output above"),
        Some(code) if code >= 64 => panic!(
            "CPU exception {} under qemu (EXCCAUSE; 0 is an illegal instruction); rerun qemu \
             with `-d int` for the PC",
            code - 64
        ),
        other => panic!("qemu ended with {other:?}; output above"),
    }
    assert!(
        log.contains("RESULT PASS"),
        "the runner did not report RESULT PASS"
    );
    // The instruction counts rest on qemu's clock model (rt.rs: 25 instructions per CCOUNT
    // step): a 2000-instruction loop must count 2000 within one step.
    let calibration: u64 = log
        .lines()
        .find_map(|l| l.strip_prefix("calibration: a 2000-instruction loop counts "))
        .expect("a calibration line")
        .trim()
        .parse()
        .expect("a count");
    assert!(
        (1975..=2050).contains(&calibration),
        "the 2000-instruction calibration loop counted {calibration}: qemu's CCOUNT no longer \
         advances once per 25 instructions, fix NS_PER_CYCLE in xtensa-runner/src/rt.rs"
    );
    common::mcu::assert_equal_to_host("xtensa", &mcu);
}
