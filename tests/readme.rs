//! The README's usage snippet compiles in a binary crate with warnings denied: the module
//! offers more items than one program uses, and the snippet's `#[allow(dead_code)]` is what
//! keeps `-D warnings` builds clean (without it the same crate fails, which this checks too).

use std::path::Path;
use std::process::Command;

/// The README's `mod digits { include!(...) }` lines, with the `#[allow(dead_code)]` before it.
fn readme_module_declaration() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let start = readme
        .find("#[allow(dead_code)]")
        .expect("the README's snippet allows dead code");
    let end = start
        + readme[start..]
            .find("\n}\n")
            .expect("the snippet's module ends")
        + 3;
    readme[start..end].to_string()
}

fn compile(dir: &Path, declaration: &str, module: &Path) -> std::process::Output {
    let main = format!(
        "{}\nfn main() {{\n    let mut model = digits::Model::new();\n    let mut logits = [0f32; digits::OUTPUT_LEN];\n    model.predict(&[0.0; digits::INPUT_LEN], &mut logits);\n    println!(\"{{logits:?}}\");\n}}\n",
        declaration.replace(
            r#"concat!(env!("OUT_DIR"), "/digits.rs")"#,
            &format!("{:?}", module.display().to_string())
        )
    );
    let source = dir.join("main.rs");
    std::fs::write(&source, main).unwrap();
    Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "bin",
            "-D",
            "warnings",
            "-o",
        ])
        .arg(dir.join("readme_snippet"))
        .arg(&source)
        .output()
        .expect("run rustc")
}

#[test]
fn the_readme_snippet_builds_with_warnings_denied() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme");
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("digits.rs");
    let generated = Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
        .args([
            "generate",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/models/digits.onnx"),
            "-o",
        ])
        .arg(&module)
        .output()
        .unwrap();
    assert!(generated.status.success());

    let declaration = readme_module_declaration();
    assert!(declaration.contains("include!"), "{declaration}");
    let built = compile(&dir, &declaration, &module);
    assert!(
        built.status.success(),
        "the README's snippet does not build with -D warnings:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );

    // Without the allow, the unused items warn: the snippet's attribute is load-bearing.
    let bare = declaration.replacen("#[allow(dead_code)]", "", 1);
    let warned = compile(&dir, &bare, &module);
    assert!(!warned.status.success());
    assert!(String::from_utf8_lossy(&warned.stderr).contains("never used"));
}
