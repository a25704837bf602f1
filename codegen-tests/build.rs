//! Compiles every fixture model with `onnx2esp::Builder`, so that the build.rs path users take
//! is the one the tests exercise:
//! - every `models/*.onnx` with the built-in kernels;
//! - the custom-layer example's models with its templates;
//! - the default digits model once more with a user template that overrides Gemm.

use std::path::{Path, PathBuf};

fn onnx_files(dir: &Path) -> Vec<PathBuf> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    paths.sort();
    paths
}

fn generate(builder: onnx2esp::Builder, model: &Path) {
    if let Err(e) = builder.generate() {
        panic!("onnx2esp failed on {}: {e}", model.display());
    }
}

fn main() {
    for model in onnx_files(Path::new("models")) {
        generate(onnx2esp::Builder::new(&model), &model);
    }

    let custom = Path::new("../examples/custom-layer");
    for model in onnx_files(&custom.join("models")) {
        generate(
            onnx2esp::Builder::new(&model).templates(custom.join("templates")),
            &model,
        );
    }

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let digits = Path::new("models/digits_qat.onnx");
    generate(
        onnx2esp::Builder::new(digits)
            .templates("templates-override")
            .output(out_dir.join("digits_qat_gemm_override.rs")),
        digits,
    );
}
