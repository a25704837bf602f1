//! Every corpus model (tests/corpus/, malformed and hostile) through the CLI binary, both
//! `generate` and `inspect`: each ends with exit 0 or 2 (never a panic's 101 or an abort's
//! 134), under a 1 GiB address-space limit, with its peak resident memory measured by
//! `/usr/bin/time` and printed, and no terminal escape or bidi control from the model
//! reaches its output (error messages, `inspect` tables). The test profile has overflow checks on, so arithmetic that
//! wraps shows up here as a panic; `cargo test --release --test corpus_limits -- --nocapture`
//! runs the same check on the release binary, where they are off.
//!
//! Needs `prlimit` (util-linux), `timeout` (coreutils) and `/usr/bin/time` (Debian `time`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The memory every run must stay within.
const LIMIT_BYTES: u64 = 1 << 30;
/// A run still going after this long is a hang. Generous: the test binary is unoptimised and
/// the machine may be busy; the times are printed.
const HANG_SECONDS: u32 = 60;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("onnx2esp-limits-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One CLI run under the limits.
struct Run {
    code: Option<i32>,
    peak_kib: u64,
    seconds: f64,
    stderr: String,
    /// Characters that would act on a terminal, found on stdout or stderr.
    raw_controls: Vec<char>,
}

/// Characters a model's text must never send to a terminal unescaped: escape sequences and
/// other C0/C1 controls (line breaks aside) and bidi overrides.
fn acts_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn run_limited(args: &[&std::ffi::OsStr], rusage: &Path) -> Run {
    // No figure from an earlier run may stand in for this one's.
    let _ = std::fs::remove_file(rusage);
    let start = std::time::Instant::now();
    let output = Command::new("timeout")
        .args(["-s", "KILL", &HANG_SECONDS.to_string()])
        .arg("prlimit")
        .arg(format!("--as={LIMIT_BYTES}"))
        .args(["--", "/usr/bin/time", "-f", "%M", "-o"])
        .arg(rusage)
        .arg(env!("CARGO_BIN_EXE_onnx2esp"))
        .args(args)
        .output()
        .expect("timeout, prlimit and /usr/bin/time must be installed");
    let seconds = start.elapsed().as_secs_f64();
    // /usr/bin/time writes "Command exited with non-zero status N" or "Command terminated by
    // signal N" before the figure; the figure is the last line.
    let report = std::fs::read_to_string(rusage).unwrap_or_default();
    let peak_kib = report
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or(0);
    let killed = report.contains("terminated by signal");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut raw_controls: Vec<char> = String::from_utf8_lossy(&output.stdout)
        .chars()
        .chain(stderr.chars())
        .filter(|&c| acts_on_terminal(c))
        .collect();
    raw_controls.dedup();
    Run {
        code: if killed { None } else { output.status.code() },
        peak_kib,
        seconds,
        stderr,
        raw_controls,
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    files.sort();
    files
}

/// 20 MB of empty nodes: two bytes each in the file, far more once decoded.
fn repeated_empty_nodes(dir: &Path) -> PathBuf {
    let nodes: usize = 10_000_000;
    let graph_len = nodes * 2;
    let mut graph = Vec::with_capacity(graph_len);
    for _ in 0..nodes {
        graph.extend_from_slice(&[0x0A, 0x00]); // GraphProto.node (field 1), empty
    }
    let mut model = vec![0x3A]; // ModelProto.graph (field 7)
    let mut len = graph_len;
    while len >= 0x80 {
        model.push((len as u8 & 0x7F) | 0x80);
        len >>= 7;
    }
    model.push(len as u8);
    model.extend(graph);
    let path = dir.join("repeated_empty_nodes.onnx");
    std::fs::write(&path, model).unwrap();
    path
}

/// Whether this build (the test and the CLI binary share the profile) panics on overflow.
fn overflow_checks_on() -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let max = std::hint::black_box(u8::MAX);
    let wrapped = std::panic::catch_unwind(|| max + 1).is_err();
    std::panic::set_hook(hook);
    wrapped
}

#[test]
fn every_corpus_model_ends_cleanly_within_a_gibibyte() {
    println!(
        "{} build, overflow checks {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if overflow_checks_on() { "on" } else { "off" }
    );
    let dir = temp_dir("corpus");
    let mut models = corpus_files();
    models.push(repeated_empty_nodes(&dir));
    let rusage = dir.join("rusage.txt");
    let output = dir.join("out.rs");
    let mut failures = Vec::new();
    let mut worst = (0, String::new());
    let mut slowest = (0.0, String::new());
    for model in &models {
        let name = model.file_stem().unwrap().to_string_lossy().into_owned();
        let runs: [(&str, Vec<&std::ffi::OsStr>); 2] = [
            (
                "generate",
                vec![
                    "generate".as_ref(),
                    model.as_os_str(),
                    "-o".as_ref(),
                    output.as_os_str(),
                ],
            ),
            (
                "inspect",
                vec![
                    "inspect".as_ref(),
                    model.as_os_str(),
                    "--samples".as_ref(),
                    "2".as_ref(),
                ],
            ),
        ];
        for (command, args) in runs {
            let run = run_limited(&args, &rusage);
            println!(
                "{name:<40} {command:<8} exit {:<4} {:>8} KiB {:>6.2} s",
                run.code.map_or("kill".into(), |c| c.to_string()),
                run.peak_kib,
                run.seconds
            );
            if run.peak_kib > worst.0 {
                worst = (run.peak_kib, format!("{name} {command}"));
            }
            if run.seconds > slowest.0 {
                slowest = (run.seconds, format!("{name} {command}"));
            }
            let clean = matches!(run.code, Some(0) | Some(2));
            if !run.raw_controls.is_empty() {
                failures.push(format!(
                    "{name} {command}: printed raw terminal controls {:?}",
                    run.raw_controls
                ));
            }
            if !clean || run.peak_kib * 1024 >= LIMIT_BYTES || run.peak_kib == 0 {
                let tail: String = run.stderr.chars().take(400).collect();
                let how = match run.code {
                    Some(code) => format!("exit {code}"),
                    None if run.seconds >= f64::from(HANG_SECONDS) => {
                        format!("killed after {HANG_SECONDS} s")
                    }
                    None => "killed by a signal".into(),
                };
                failures.push(format!(
                    "{name} {command}: {how}, {} KiB, {:.1} s: {tail}",
                    run.peak_kib, run.seconds
                ));
            }
        }
    }
    println!(
        "{} runs; largest peak resident memory {} KiB ({}); longest {:.2} s ({})",
        models.len() * 2,
        worst.0,
        worst.1,
        slowest.0,
        slowest.1
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
