//! The operator table of docs/operators.md is the code's operator list (`onnx2esp::lower::OPERATORS`), so
//! the two cannot drift; every fixture it names exists and every op fixture is named.

use std::path::Path;

const BEGIN: &str = "<!-- operator table: rendered from src/lower/registry.rs OPERATORS, checked by tests/operator_table.rs -->\n";
const END: &str = "<!-- end of operator table -->";

#[test]
fn documented_operator_table_matches_the_code() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operators.md"))
            .expect("read docs/operators.md");
    let start = readme
        .find(BEGIN)
        .expect("docs/operators.md has the operator table marker")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("docs/operators.md has the end marker");
    let expected = onnx2esp::lower::operator_table_markdown();
    // `WRITE_OPERATOR_TABLE=1 cargo test --test operator_table` rewrites the table.
    if std::env::var_os("WRITE_OPERATOR_TABLE").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operators.md"),
            updated,
        )
        .expect("write docs/operators.md");
        return;
    }
    assert_eq!(
        &readme[start..end],
        expected,
        "docs/operators.md's operator table is stale: WRITE_OPERATOR_TABLE=1 cargo test --test operator_table rewrites it as:\n{expected}"
    );
}

#[test]
fn every_operator_fixture_exists_and_every_fixture_is_listed() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("codegen-tests/models");
    let listed: Vec<&str> = onnx2esp::lower::OPERATORS
        .iter()
        .flat_map(|o| o.fixtures.iter().copied())
        .collect();
    for name in &listed {
        assert!(
            models.join(format!("{name}.onnx")).exists(),
            "fixture {name} is listed but missing"
        );
    }
    for dir in ["ops", "recurrent"] {
        for entry in std::fs::read_dir(models.join(dir)).expect("read a fixture directory") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "onnx") {
                let stem = path.file_stem().unwrap().to_str().unwrap();
                assert!(
                    listed.contains(&format!("{dir}/{stem}").as_str()),
                    "{dir}/{stem}.onnx is not listed by any operator in src/lower/registry.rs"
                );
            }
        }
    }
}
