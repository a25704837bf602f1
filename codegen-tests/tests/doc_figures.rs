//! The sizes in the docs' generated tables are the generated modules' own: every fixture's
//! MACs, weight bytes, arena bytes and arena lower bound, as its header states them, equal
//! the figures of `docs/performance.md`. (The instructions per inference are checked where
//! they are measured: tests/qemu.rs and tests/xtensa.rs.) A stale figure fails here; rewrite
//! the tables with `codegen-tests/perf.sh --write-docs`.

mod common;

use common::doc_figures::{assert_figures, exact};
use std::collections::BTreeMap;

/// The figures of a module's `// Arena: ...` header line.
struct Sizes {
    macs: u64,
    weights: u64,
    arena: u64,
    bound: u64,
}

/// Reads `$OUT_DIR/{module}.rs`'s header: `// Arena: A bytes (lower bound from live tensors:
/// B bytes). Weights: W bytes. MACs: M.`
fn sizes(module: &str) -> Sizes {
    let path = format!("{}/{module}.rs", env!("OUT_DIR"));
    let code = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (a doc table has a row for `{module}`)"));
    let line = code
        .lines()
        .find(|l| l.starts_with("// Arena: "))
        .unwrap_or_else(|| panic!("{path} has no `// Arena:` header line"));
    let after = |key: &str| -> u64 {
        let start = line
            .find(key)
            .unwrap_or_else(|| panic!("{path}: no `{key}` in `{line}`"))
            + key.len();
        line[start..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{path}: no number after `{key}` in `{line}`"))
    };
    Sizes {
        macs: after("MACs: "),
        weights: after("Weights: "),
        arena: after("Arena: "),
        bound: after("live tensors: "),
    }
}

#[test]
fn module_sizes_in_the_docs_are_the_modules_own() {
    const DOC: &str = "docs/performance.md";
    // (table, its columns of module sizes)
    let tables = [
        (
            "riscv32imc",
            &["MACs", "weights B", "arena B", "arena lower bound B"][..],
        ),
        ("isa", &["MACs"][..]),
        ("host", &["MACs"][..]),
    ];
    let mut figures = Vec::new();
    for (id, columns) in tables {
        // Every recorded model (perf.sh writes a row for each; the host benchmark's table is
        // checked on the rows it has), and every other fixture the table shows (the
        // custom-layer model): a row of a module the suite does not generate fails too.
        let mut modules: Vec<String> = match id {
            "host" => Vec::new(),
            _ => common::mcu::recorded_models()
                .into_iter()
                .map(String::from)
                .collect(),
        };
        modules.extend(common::doc_figures::table(DOC, id).rows.into_keys());
        modules.sort();
        modules.dedup();
        for &column in columns {
            let measured: BTreeMap<String, u64> = modules
                .iter()
                .map(|module| {
                    let s = sizes(module);
                    let value = match column {
                        "MACs" => s.macs,
                        "weights B" => s.weights,
                        "arena B" => s.arena,
                        "arena lower bound B" => s.bound,
                        other => panic!("no header figure for column `{other}`"),
                    };
                    (module.clone(), value)
                })
                .collect();
            figures.push((id, column, measured));
        }
    }
    let checks: Vec<_> = figures
        .iter()
        .map(|(id, column, measured)| exact(DOC, id, column, measured))
        .collect();
    assert_figures(&checks);
}

/// docs/benchmarks.md's table of the MLPerf Tiny fixtures shows the same figures as the
/// two-ISA table of docs/performance.md (which the runners' tests hold to their own runs):
/// perf.sh writes both from one measurement.
#[test]
fn mlperf_figures_are_the_two_isa_tables_own() {
    const DOC: &str = "docs/benchmarks.md";
    let isa = common::doc_figures::table("docs/performance.md", "isa");
    let mlperf = common::doc_figures::table(DOC, "mlperf");
    assert_eq!(
        mlperf.rows.len(),
        4,
        "{DOC}: one row per MLPerf Tiny architecture"
    );
    // (benchmarks.md column, performance.md column)
    let columns = [
        ("MACs", "MACs"),
        ("Xtensa `run` (`esp32s3`)", "Xtensa, esp32s3"),
        ("riscv32imc `run` (`esp32c3`)", "riscv32imc, esp32c3"),
    ];
    let figures: Vec<(&str, BTreeMap<String, u64>)> = columns
        .iter()
        .map(|&(column, source)| {
            let index = isa
                .header
                .iter()
                .position(|h| h == source)
                .unwrap_or_else(|| panic!("{}: no column `{source}`", isa.name));
            let values = mlperf
                .rows
                .keys()
                .map(|fixture| {
                    let row = isa
                        .rows
                        .get(fixture)
                        .unwrap_or_else(|| panic!("{}: no row for `{fixture}`", isa.name));
                    let value = common::doc_figures::number(&row[index])
                        .unwrap_or_else(|| panic!("{}: `{fixture}` {source}", isa.name));
                    (fixture.clone(), value)
                })
                .collect();
            (column, values)
        })
        .collect();
    let checks: Vec<_> = figures
        .iter()
        .map(|(column, measured)| exact(DOC, "mlperf", column, measured))
        .collect();
    assert_figures(&checks);
}
