//! Output safety: the module and its weights file are written all or nothing (a full disk is
//! simulated with a failing writer), targets that are not regular files and the model itself
//! are refused, a closed stdout pipe ends the output quietly, and the CLI says exactly which
//! files it wrote and which it could not write.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/models/digits.onnx");

fn onnx2esp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
}

/// A fresh directory of its own for each test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("output")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes half the content, then fails as a full disk does.
fn disk_full_on_module(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if path.to_string_lossy().contains(".rs.") {
        std::fs::write(path, &content[..content.len() / 2])?;
        return Err(std::io::Error::other("No space left on device (simulated)"));
    }
    std::fs::write(path, content)
}

fn disk_full_on_weights(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if path.to_string_lossy().contains(".weights.bin.") {
        std::fs::write(path, &content[..content.len() / 2])?;
        return Err(std::io::Error::other("No space left on device (simulated)"));
    }
    std::fs::write(path, content)
}

#[test]
fn a_full_disk_leaves_the_previous_module_and_weights_file_untouched() {
    for (case, writer) in [
        ("module", disk_full_on_module as onnx2esp::output::WriteFile),
        ("weights", disk_full_on_weights),
    ] {
        let dir = temp_dir(&format!("full_disk_{case}"));
        let module = dir.join("digits.rs");
        // The old pair: every static in the weights file.
        onnx2esp::Builder::new(MODEL)
            .rerun_if_changed(false)
            .output(&module)
            .weights_file_threshold(Some(0))
            .generate()
            .unwrap();
        let weights = dir.join("digits.weights.bin");
        let (old_module, old_weights) = (
            std::fs::read(&module).unwrap(),
            std::fs::read(&weights).unwrap(),
        );
        // The new pair differs in both files (fewer statics in the file), and the disk fills.
        let error = onnx2esp::Builder::new(MODEL)
            .rerun_if_changed(false)
            .output(&module)
            .weights_file_threshold(Some(64))
            .file_writer(writer)
            .generate()
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("cannot write"), "{case}: {error}");
        assert!(error.contains("No space left on device"), "{case}: {error}");
        assert_eq!(std::fs::read(&module).unwrap(), old_module, "{case}");
        assert_eq!(std::fs::read(&weights).unwrap(), old_weights, "{case}");
        assert_eq!(
            files_in(&dir),
            ["digits.rs", "digits.weights.bin"],
            "{case}: no temporary file is left"
        );
    }
}

#[test]
fn output_must_not_be_the_model() {
    let dir = temp_dir("model_as_output");
    let model = dir.join("digits.onnx");
    std::fs::copy(MODEL, &model).unwrap();
    let before = std::fs::read(&model).unwrap();
    let out = onnx2esp()
        .arg("generate")
        .arg(&model)
        .arg("-o")
        .arg(&model)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("it is the input model"), "{stderr}");
    assert_eq!(std::fs::read(&model).unwrap(), before);
}

/// Runs `generate MODEL -o target`, killed if it blocks (a FIFO opened for writing would).
fn generate_into(target: &Path) -> (Option<i32>, String) {
    let out = Command::new("timeout")
        .args(["-s", "KILL", "30"])
        .arg(env!("CARGO_BIN_EXE_onnx2esp"))
        .args(["generate", MODEL, "-o"])
        .arg(target)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_fifo_a_directory_and_a_device_are_refused_without_blocking() {
    let dir = temp_dir("special");
    let fifo = dir.join("fifo.rs");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (code, stderr) = generate_into(&fifo);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    let directory = dir.join("directory.rs");
    std::fs::create_dir(&directory).unwrap();
    let (code, stderr) = generate_into(&directory);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");

    // A character device like /dev/null (1, 3), made here rather than risking the real one.
    let device = dir.join("null.rs");
    let made = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let (code, stderr) = generate_into(&device);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
        assert!(!std::fs::metadata(&device).unwrap().is_file());
    } else {
        println!("mknod is not permitted here (not root): the device case was not run");
    }
}

#[test]
fn a_closed_stdout_pipe_ends_the_output_quietly() {
    for args in [
        vec!["generate", MODEL],
        vec!["inspect", MODEL, "--samples", "2"],
    ] {
        let mut child = onnx2esp()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is written, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_cli_reports_only_the_files_it_wrote() {
    let dir = temp_dir("reported");
    let module = dir.join("digits.rs");
    // A file of the user's that happens to have the weights file's name.
    let theirs = dir.join("digits.weights.bin");
    std::fs::write(&theirs, "not onnx2esp's").unwrap();
    let out = onnx2esp()
        .args(["generate", MODEL, "--inline-weights", "-o"])
        .arg(&module)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("wrote {}", module.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("weights.bin"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "not onnx2esp's");
}

#[test]
fn a_write_failure_says_cannot_write() {
    let dir = temp_dir("unwritable");
    let module = dir.join("no_such_directory").join("digits.rs");
    let out = onnx2esp()
        .args(["generate", MODEL, "-o"])
        .arg(&module)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot write {}", module.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn model_text_is_escaped_in_error_messages() {
    let model = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/hostile_terminal_escapes.onnx"
    );
    let out = onnx2esp().args(["generate", model]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "a raw escape reached the terminal"
    );
    assert!(
        !stderr.contains('\u{202e}'),
        "a bidi override reached the terminal"
    );
    assert!(stderr.contains("\\u{1b}[2J"), "{stderr}");
}
