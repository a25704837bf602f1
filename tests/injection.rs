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
            syn::Item::Enum(e) => e.ident.to_string(),
            syn::Item::Trait(t) => t.ident.to_string(),
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
                "LayerProbe",
                "LayerOutput",
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

/// Hostile node names and string attributes that try to leave a `//` comment, a `/* */`
/// comment or a string literal of a user template, to add an item or read a file.
const ESCAPES: &[&str] = &[
    "a\n}\nconst LEAK: &str = include_str!(\"/etc/passwd\");\nfn b() {\n//",
    "b\"); const LEAK: &str = include_str!(\"/etc/passwd\"); const C: (&str, &str) = (\"",
    "c */ const LEAK: &[u8] = include_bytes!(\"/etc/passwd\"); /* d",
    "e\\\"); include!(\"/etc/passwd\"); //",
    "\u{2028}f\r\u{202e}g /* nested",
];

/// `x → Q → DQ → evil.ops::Echo(mode=...) → Q → DQ → y`, named `name`.
fn echo_model(name: &str, mode: &str) -> Vec<u8> {
    let mut echo = node("Echo", name, &["xd"], &["e"]);
    echo.domain = "evil.ops".into();
    echo.attribute.push(string_attr("mode", mode));
    model(
        vec![
            node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"]),
            node("DequantizeLinear", "dq", &["xq", "s", "z"], &["xd"]),
            echo,
            node("QuantizeLinear", "q_out", &["e", "s", "z"], &["eq"]),
            node("DequantizeLinear", "dq_out", &["eq", "s", "z"], &["y"]),
        ],
        vec![tensor_f32("s", &[], &[0.5]), tensor_i8("z", &[], &[0])],
        &[1, 3],
        &[1, 3],
    )
}

/// A template that puts the model's strings where templates put text: comments and string
/// literals.
const ECHO: &str = r#"fn {{ signature }} {
    // Node {{ node.name }}, mode {{ attributes.mode }}.
    /* Node {{ node.name }}, mode {{ attributes.mode }}. */
    const NAME: &str = "{{ node.name }}";
    const MODE: &str = "{{ attributes.mode }}";
    let _ = (NAME, MODE);
    output.copy_from_slice(input);
}
"#;

#[test]
fn model_strings_cannot_escape_comments_or_string_literals_of_a_user_template() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("injection_templates");
    std::fs::create_dir_all(dir.join("evil.ops")).unwrap();
    std::fs::write(dir.join("evil.ops/Echo.rs.tera"), ECHO).unwrap();
    let options = onnx2esp::Options {
        templates: Some(dir.clone()),
        ..onnx2esp::Options::default()
    };
    for (i, hostile) in ESCAPES.iter().enumerate() {
        let code = onnx2esp::generate_with(&echo_model(hostile, hostile), "echo.onnx", &options)
            .unwrap_or_else(|e| panic!("{hostile:?}: {e}"));
        let file = syn::parse_file(&code).expect("the module parses");
        // The layer function is still one function whose body declares exactly the two
        // constants of the template, and no macro anywhere names a file.
        let layer = file
            .items
            .iter()
            .find_map(|item| match item {
                syn::Item::Fn(f) if f.sig.ident == "echo_0" => Some(f),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no echo_0 in:\n{code}"));
        let consts: Vec<String> = layer
            .block
            .stmts
            .iter()
            .filter_map(|s| match s {
                syn::Stmt::Item(syn::Item::Const(c)) => Some(c.ident.to_string()),
                syn::Stmt::Item(other) => panic!("extra item {}", quote::quote!(#other)),
                _ => None,
            })
            .collect();
        assert_eq!(consts, ["NAME", "MODE"], "{hostile:?}:\n{code}");
        assert!(
            !file
                .items
                .iter()
                .any(|i| matches!(i, syn::Item::Const(c) if c.ident == "LEAK")),
            "{code}"
        );
        // The string literals read back as the model's text, exactly.
        for stmt in &layer.block.stmts {
            if let syn::Stmt::Item(syn::Item::Const(c)) = stmt {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &*c.expr
                {
                    assert_eq!(s.value(), *hostile);
                }
            }
        }
        // No include macro outside comments and string literals: the token stream holds none.
        let tokens = quote::quote!(#file).to_string();
        for include in ["include_str !", "include_bytes !", "include !"] {
            assert!(!tokens.contains(include), "{hostile:?}:\n{code}");
        }
        // And it compiles (a raw name would either not parse or embed the file).
        let out_dir =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("injection_echo_{i}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        std::fs::write(out_dir.join("model.rs"), &code).unwrap();
        let out = common::compile_module(&out_dir);
        assert!(
            out.status.success(),
            "{hostile:?}: {}\n{code}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `raw` gives the same strings unescaped, for templates that check them themselves.
#[test]
fn raw_strings_are_there_for_templates_that_opt_out() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("injection_raw");
    std::fs::create_dir_all(dir.join("evil.ops")).unwrap();
    let template = r#"fn {{ signature }} {
    {%- if raw.attributes.mode == 'a"b' and raw.node.name == 'n"1' %}
    let _escaped = "{{ attributes.mode }}";
    {%- endif %}
    output.copy_from_slice(input);
}
"#;
    std::fs::write(dir.join("evil.ops/Echo.rs.tera"), template).unwrap();
    let options = onnx2esp::Options {
        templates: Some(dir),
        ..onnx2esp::Options::default()
    };
    let code = onnx2esp::generate_with(&echo_model("n\"1", "a\"b"), "echo.onnx", &options).unwrap();
    assert!(code.contains(r#"let _escaped = "a\"b";"#), "{code}");
}
