//! The library's modules depend on each other in one direction, the pipeline's: a module may
//! name (`crate::m`) only modules of a lower layer below. A new top-level module must be given
//! its layer here, and a path through the crate root's re-exports (`crate::Error`,
//! `use crate::{...}`) is refused, since it would hide which module is used.
//!
//! Test code (`tests.rs` files, and everything from a file's `#[cfg(test)]` on) may use the
//! whole pipeline and is not checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bottom to top. Modules of one layer may not name each other either.
const LAYERS: &[&[&str]] = &[
    &["text", "error"],
    &["onnx"],
    &["npy"],
    &["quant"],
    &["rewrite"],
    &["options"],
    &["kernel"],
    &["ir"],
    &["lower"],
    &["plan"],
    &["emit"],
    &["pipeline"],
    &["regenerate", "output"],
    &["generate"],
    &["builder", "inspect"],
    &["compare"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The product code of a file: test code and comments removed.
fn product_code(source: &str) -> String {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names that follow `crate::` in `code`: a module, or `{`/a capitalised item for a path
/// through the crate root.
fn crate_paths(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `$crate::` and identifiers ending in `crate` are not the crate root.
            !code[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(at, _)| {
            let rest = &code[at + "crate::".len()..];
            if rest.starts_with('{') {
                return "{".to_string();
            }
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Each violation as `file: module -> named module (why)`.
fn violations(src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src");
        let top = relative
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .unwrap_or_default();
        if top == "lib" || top == "main" || file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let Some(own_layer) = layer_of(&top) else {
            found.push(format!(
                "{}: module `{top}` has no layer",
                relative.display()
            ));
            continue;
        };
        let source = std::fs::read_to_string(&file).expect("readable source");
        for named in crate_paths(&product_code(&source)) {
            if named == top {
                continue;
            }
            let why = match layer_of(&named) {
                None => "through the crate root, not a module",
                Some(layer) if layer >= own_layer => "not below it",
                Some(_) => continue,
            };
            found.push(format!(
                "{}: {top} -> crate::{named} ({why})",
                relative.display()
            ));
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn modules_depend_on_lower_layers_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "{} back-edges or hidden paths:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_back_edge_a_root_path_and_a_module_without_a_layer() {
    let dir = std::env::temp_dir().join(format!("onnx2esp-layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("lower")).unwrap();
    let files = BTreeMap::from([
        // A back-edge: lowering naming the emitter.
        (
            "lower/mod.rs",
            "use crate::emit::Templates;\nuse crate::ir::QGraph;\n",
        ),
        // A path through the root, and an allowed edge in a comment and in test code.
        (
            "plan.rs",
            "use crate::{ir, kernel};\n// crate::emit::x\n#[cfg(test)]\nuse crate::pipeline;\n",
        ),
        ("extra.rs", "use crate::error::Error;\n"),
    ]);
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let found = violations(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        found,
        [
            "extra.rs: module `extra` has no layer",
            "lower/mod.rs: lower -> crate::emit (not below it)",
            "plan.rs: plan -> crate::{ (through the crate root, not a module)",
        ]
    );
}
