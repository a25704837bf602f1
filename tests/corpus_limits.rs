//! Every corpus model (tests/corpus/, malformed and hostile) through the CLI binary, both
//! `generate` and `inspect`: each ends with exit 0 or 2 (never a panic's 101 or an abort's
//! 134), under a 1 GiB address-space limit, with its peak resident memory measured by
//! `/usr/bin/time` and printed. The test profile has overflow checks on, so arithmetic that
//! wraps shows up here as a panic.
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
}

fn run_limited(args: &[&std::ffi::OsStr], rusage: &Path) -> Run {
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
    Run {
        code: if killed { None } else { output.status.code() },
        peak_kib,
        seconds,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
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

#[test]
fn every_corpus_model_ends_cleanly_within_a_gibibyte() {
    let dir = temp_dir("corpus");
    let mut models = corpus_files();
    models.push(repeated_empty_nodes(&dir));
    let rusage = dir.join("rusage.txt");
    let output = dir.join("out.rs");
    let mut failures = Vec::new();
    let mut worst = (0, String::new());
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
            let clean = matches!(run.code, Some(0) | Some(2));
            if !clean || run.peak_kib * 1024 >= LIMIT_BYTES || run.peak_kib == 0 {
                let tail: String = run.stderr.chars().take(400).collect();
                failures.push(format!(
                    "{name} {command}: exit {:?}, {} KiB, {:.1} s: {tail}",
                    run.code, run.peak_kib, run.seconds
                ));
            }
        }
    }
    println!("peak resident memory: {} KiB ({})", worst.0, worst.1);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
