//! A module with a weights file compiles as a `#![no_std]`, `#![forbid(unsafe_code)]` crate
//! with warnings denied, and refuses to compile with a weights file from another generation
//! or of another length.

mod common;

#[test]
fn a_module_compiles_only_with_its_own_weights_file() {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/models/digits.onnx");
    let (bytes, file_name) = onnx2esp::read_model(std::path::Path::new(model)).unwrap();
    let options = onnx2esp::Options {
        weights_file_threshold: Some(0),
        ..Default::default()
    };
    let generated = onnx2esp::generate_files(&bytes, &file_name, "model", &options).unwrap();
    let file = generated
        .weights_file
        .expect("threshold 0 moves every static");
    assert_eq!(file.name, "model.weights.bin");

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("weights_file");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.rs"), &generated.code).unwrap();
    let compile = |weights: &[u8]| {
        std::fs::write(dir.join("model.weights.bin"), weights).unwrap();
        let out = common::compile_module(&dir);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, stderr) = compile(&file.bytes);
    assert!(ok, "{stderr}");

    // Another generation writes another hash into the header.
    let mut other = file.bytes.clone();
    other[8] ^= 1;
    let (ok, stderr) = compile(&other);
    assert!(!ok);
    assert!(
        stderr.contains(
            "model.weights.bin is not the weights file this module was generated with: \
             regenerate both"
        ),
        "{stderr}"
    );

    let mut longer = file.bytes.clone();
    longer.push(0);
    let (ok, stderr) = compile(&longer);
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "expected an array with a size of {}",
            file.bytes.len()
        )),
        "{stderr}"
    );
}
