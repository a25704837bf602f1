//! The `onnx2esp generate` command line that reproduces a module byte for byte: the header's
//! "Regenerate:" line. Paths are written relative to the module's directory (the command runs
//! from there), so the line, like the rest of the module, does not depend on the working
//! directory or on how a path was spelled.

use crate::options::{
    Budget, EmbedTests, Options, TargetCpu, DEFAULT_MAX_CODE, DEFAULT_WEIGHTS_FILE_THRESHOLD,
};
use crate::quant::Rounding;
use crate::rewrite::scales::{ScalePolicy, SnapRule};
use std::path::{Component, Path, PathBuf};

/// Where the module goes, as far as the command line is concerned.
pub(crate) enum Destination<'a> {
    /// Printed to stdout: every weight inline; the command names the files by name only.
    Stdout,
    /// A module file of this name, in a directory the caller has not said: files by name
    /// only.
    Named(&'a str),
    /// Written to this file (in an existing directory): paths relative to its directory.
    File(&'a Path),
}

/// The command, shell-quoted where needed. `model` is the model's path as the caller gave it.
pub(crate) fn command(options: &Options, model: &Path, destination: Destination) -> String {
    // Every field is named, so that a new option cannot be forgotten here.
    let Options {
        templates,
        input_shapes,
        budget,
        scales,
        rounding,
        arena_link_section,
        unroll,
        target_cpu,
        weights_file_threshold,
        max_code,
        embed_tests,
    } = options;
    let to_file = !matches!(destination, Destination::Stdout);
    let (base, output) = match destination {
        Destination::Stdout => (None, "<this file>".to_string()),
        Destination::Named(name) => (None, quote(name)),
        Destination::File(path) => (
            path.parent().and_then(|dir| absolute(dir).ok()),
            path.file_name()
                .map(|n| quote(&n.to_string_lossy()))
                .unwrap_or_default(),
        ),
    };
    let shown = |path: &Path| match &base {
        Some(base) => quote(&relative_to(path, base)),
        None => quote(
            &path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    let mut words = vec![
        "onnx2esp generate".to_string(),
        shown(model),
        format!("-o {output}"),
    ];
    if let Some(dir) = templates {
        words.push(format!("--templates {}", shown(dir)));
    }
    for (name, dims) in input_shapes {
        let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
        words.push(format!(
            "--input-shape {}",
            quote(&format!("{name}={}", dims.join(",")))
        ));
    }
    match scales {
        ScalePolicy::Exact => {}
        ScalePolicy::Snap(SnapRule::Nearest) => words.push("--scales snap".into()),
        ScalePolicy::Snap(SnapRule::Ceil) => words.push("--scales snap --snap ceil".into()),
    }
    match rounding {
        Rounding::HalfEven => {}
        Rounding::HalfUp => words.push("--rounding half-up".into()),
    }
    let Budget { max_ram, max_flash } = *budget;
    if max_ram != Budget::ESP32_S3.max_ram {
        words.push(format!("--max-ram {max_ram}"));
    }
    if max_flash != Budget::ESP32_S3.max_flash {
        words.push(format!("--max-flash {max_flash}"));
    }
    if *max_code != DEFAULT_MAX_CODE {
        words.push(format!("--max-code {max_code}"));
    }
    if let Some(section) = arena_link_section {
        words.push(format!("--arena-section {}", quote(section)));
    }
    match target_cpu {
        TargetCpu::Esp32s3 => {}
        TargetCpu::Esp32c3 => words.push("--target-cpu esp32c3".into()),
        TargetCpu::Generic => words.push("--target-cpu generic".into()),
    }
    // The unroll the module was generated with, named only when it is not the CPU's own.
    if let Some(unroll) = unroll.filter(|&n| n != target_cpu.unroll()) {
        words.push(format!("--unroll {unroll}"));
    }
    if let Some(EmbedTests {
        count,
        inputs,
        outputs,
    }) = embed_tests
    {
        words.push(format!(
            "--embed-tests {count} --test-inputs {} --test-outputs {}",
            shown(inputs),
            shown(outputs)
        ));
    }
    // Only a module written to a file has a weights file; stdout keeps every weight inline.
    if to_file {
        match weights_file_threshold {
            None => words.push("--inline-weights".into()),
            Some(DEFAULT_WEIGHTS_FILE_THRESHOLD) => {}
            Some(bytes) => words.push(format!("--weights-file-threshold {bytes}")),
        }
    }
    words.join(" ")
}

/// `path` made absolute against the working directory, with `.` and `..` resolved through
/// the file system where the path exists (so that a symlinked directory gives the same
/// answer however it is reached).
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    path.canonicalize().or_else(|_| std::path::absolute(path))
}

/// `path` relative to the directory `base` (both made absolute), with `/` separators; the
/// path as given when it cannot be made absolute.
fn relative_to(path: &Path, base: &Path) -> String {
    let Ok(path) = absolute(path) else {
        return path.to_string_lossy().into_owned();
    };
    let ours: Vec<Component> = path.components().collect();
    let theirs: Vec<Component> = base.components().collect();
    let common = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); theirs.len() - common];
    parts.extend(
        ours[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// A word for a POSIX shell: bare when it holds only characters no shell treats specially,
/// else in single quotes.
fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./=,:+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_and_descend() {
        let base = Path::new("/a/b/c");
        assert_eq!(relative_to(Path::new("/a/b/c/m.onnx"), base), "m.onnx");
        assert_eq!(
            relative_to(Path::new("/a/x/m.onnx"), base),
            "../../x/m.onnx"
        );
        assert_eq!(relative_to(Path::new("/a/b/c"), base), ".");
    }

    #[test]
    fn words_a_shell_would_split_are_quoted() {
        assert_eq!(quote("models/digits.onnx"), "models/digits.onnx");
        assert_eq!(quote("my model.onnx"), "'my model.onnx'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn default_options_add_no_flag() {
        let line = command(
            &Options::default(),
            Path::new("dir/m.onnx"),
            Destination::Stdout,
        );
        assert_eq!(line, "onnx2esp generate m.onnx -o <this file>");
    }
}
