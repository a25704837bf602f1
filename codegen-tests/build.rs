//! Compiles every fixture model under `models/` with `onnx2esp::Builder`, so that the build.rs
//! path users take is the one the tests exercise.

use std::path::Path;

fn main() {
    let models = Path::new("models");
    println!("cargo:rerun-if-changed={}", models.display());
    let mut paths: Vec<_> = std::fs::read_dir(models)
        .expect("codegen-tests/models is readable")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    paths.sort();
    for path in paths {
        if let Err(e) = onnx2esp::Builder::new(&path).generate() {
            panic!("onnx2esp failed on {}: {e}", path.display());
        }
    }
}
