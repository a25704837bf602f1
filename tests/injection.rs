//! Names from a model never reach the generated code raw: a model whose names try to close
//! comments, open attributes or declare items still yields a module that compiles, declares
//! only the items onnx2esp writes, and is deterministic.

mod common;

use common::*;
use std::collections::BTreeSet;

const HOSTILE: &[&str] = &[
    "x */ } #[cfg(any())] fn evil() {",
    "match\n#[no_mangle] pub fn pwn() {}\n//",
    "\"quoted\" \\ back'slash",
    "{{ signature }} {% raw %}",
    "\u{202e}rtl\u{0}nul\u{7}bell\r\n",
    "fn",
];

/// Two inputs and two outputs, every name hostile, so that port names become identifiers.
fn hostile_model() -> Vec<u8> {
    let [x1, x2, y1, y2, n1, n2] = [0, 1, 2, 3, 4, 5].map(|i| HOSTILE[i]);
    let names = |base: &str, suffix: &str| format!("{base}{suffix}");
    let mut nodes = Vec::new();
    for (x, y, n) in [(x1, y1, n1), (x2, y2, n2)] {
        let (xq, xd, r, rq) = (names(x, "q"), names(x, "d"), names(y, "r"), names(y, "rq"));
        nodes.push(node(
            "QuantizeLinear",
            &names(n, "q"),
            &[x, "s", "z"],
            &[&xq],
        ));
        nodes.push(node(
            "DequantizeLinear",
            &names(n, "dq"),
            &[&xq, "s", "z"],
            &[&xd],
        ));
        nodes.push(node("Relu", &names(n, "relu"), &[&xd], &[&r]));
        nodes.push(node(
            "QuantizeLinear",
            &names(n, "q2"),
            &[&r, "s", "z"],
            &[&rq],
        ));
        nodes.push(node(
            "DequantizeLinear",
            &names(n, "dq2"),
            &[&rq, "s", "z"],
            &[y],
        ));
    }
    let mut bytes_model = model_with_ports(
        nodes,
        vec![tensor_f32("s", &[], &[0.5]), tensor_i8("z", &[], &[0])],
        &[(x1, &[1, 3]), (x2, &[1, 3])],
        &[(y1, &[1, 3]), (y2, &[1, 3])],
    );
    bytes_model.shrink_to_fit();
    bytes_model
}

#[test]
fn hostile_names_compile_declare_nothing_extra_and_stay_deterministic() {
    let code =
        onnx2esp::generate_from_bytes(&hostile_model(), "evil */ \n fn x() {}.onnx").unwrap();
    let again =
        onnx2esp::generate_from_bytes(&hostile_model(), "evil */ \n fn x() {}.onnx").unwrap();
    assert_eq!(code, again);

    // Every top-level item is one onnx2esp writes.
    let file = syn::parse_file(&code).expect("the module parses");
    let mut names = BTreeSet::new();
    for item in &file.items {
        let name = match item {
            syn::Item::Const(c) => c.ident.to_string(),
            syn::Item::Static(s) => s.ident.to_string(),
            syn::Item::Fn(f) => f.sig.ident.to_string(),
            syn::Item::Struct(s) => s.ident.to_string(),
            syn::Item::Impl(_) => "impl".to_string(),
            other => panic!("unexpected item {}", quote::quote!(#other)),
        };
        names.insert(name);
    }
    // The runtime helpers are onnx2esp's own items, whatever subset a module carries.
    let runtime = include_str!("../templates/runtime.rs");
    let helpers: Vec<&str> = runtime
        .lines()
        .filter_map(|line| line.strip_prefix("fn "))
        .filter_map(|rest| rest.split(['(', '<']).next())
        .collect();
    for name in &names {
        let known = name.starts_with("INPUT_")
            || name.starts_with("OUTPUT_")
            || name.starts_with("relu_")
            || name.starts_with("RELU_")
            || helpers.contains(&name.as_str())
            || [
                "ARENA_BYTES",
                "ROUND_HALF_UP",
                "Align16",
                "Model",
                "impl",
                "window",
                "split_arena",
            ]
            .contains(&name.as_str());
        assert!(known, "unexpected item `{name}` in:\n{code}");
    }
    // The hostile text survives only inside comments.
    for line in code
        .lines()
        .filter(|l| l.contains("fn evil") || l.contains("fn pwn"))
    {
        assert!(
            line.trim_start().starts_with("//"),
            "outside a comment: {line}"
        );
    }
    // No raw control characters anywhere.
    assert!(
        !code.chars().any(|c| c.is_control() && c != '\n'),
        "control characters leaked"
    );

    // It compiles as a no_std, unsafe-free module.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("injection");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.rs"), &code).unwrap();
    let out = common::compile_module(&dir);
    assert!(
        out.status.success(),
        "{}\n{code}",
        String::from_utf8_lossy(&out.stderr)
    );
}
