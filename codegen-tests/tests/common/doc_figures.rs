//! The figures of the docs that the code produces, held to what the test suite measures.
//!
//! `codegen-tests/perf.sh --write-docs` writes the figure tables of the docs between
//! `<!-- perf:begin ID -->` and `<!-- perf:end -->`. The deterministic columns of those tables
//! (MACs, weights and arena bytes from the modules' headers; instructions per inference from
//! the qemu runners) are checked here against the modules and runs of the suite, so that a
//! figure the code no longer gives fails the suite instead of going stale.

use std::collections::BTreeMap;
use std::path::Path;

/// The one command that rewrites every generated table of the docs.
pub const REGENERATE: &str = "codegen-tests/perf.sh --write-docs";

/// A generated table: its header cells and its rows by fixture (the first cell, without
/// backticks).
pub struct Table {
    pub name: String,
    pub header: Vec<String>,
    pub rows: BTreeMap<String, Vec<String>>,
}

/// The table between `<!-- perf:begin ID -->` and `<!-- perf:end -->` in `doc` (a path from
/// the repository root).
pub fn table(doc: &str, id: &str) -> Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let name = format!("{doc} (table `{id}`)");
    let begin = format!("<!-- perf:begin {id} -->");
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("{doc} has no `{begin}` marker"))
        + begin.len();
    let end = start
        + text[start..]
            .find("<!-- perf:end -->")
            .unwrap_or_else(|| panic!("{name} has no `<!-- perf:end -->` marker"));
    let mut lines = text[start..end]
        .lines()
        .filter(|line| line.starts_with('|'))
        .map(cells);
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("{name} holds no table"));
    let rows = lines
        .filter(|row| !row.iter().all(|c| c.chars().all(|ch| ch == '-')))
        .map(|row| (row[0].trim_matches('`').to_owned(), row))
        .collect();
    Table { name, header, rows }
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_owned())
        .collect()
}

/// A figure as the tables print it: digits with thousands separators; `None` for `—`.
pub fn number(cell: &str) -> Option<u64> {
    let digits = cell.replace(',', "");
    digits.parse().ok()
}

impl Table {
    fn column(&self, column: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| {
                panic!(
                    "{} has no column `{column}` (columns: {:?})",
                    self.name, self.header
                )
            })
    }

    /// The differences of more than `tolerance` between the figures of `column` and
    /// `measured`, one line each, for every measured fixture (a fixture without a row is a
    /// difference too).
    pub fn differences(
        &self,
        column: &str,
        measured: &BTreeMap<String, u64>,
        tolerance: u64,
    ) -> Vec<String> {
        let index = self.column(column);
        let mut differences = Vec::new();
        for (fixture, &value) in measured {
            let shown = self
                .rows
                .get(fixture)
                .map(|row| row.get(index).map(String::as_str).unwrap_or(""));
            match shown {
                None => differences.push(format!(
                    "{}: no row for `{fixture}` (measured {value})",
                    self.name
                )),
                Some(cell)
                    if number(cell).is_none_or(|shown| shown.abs_diff(value) > tolerance) =>
                {
                    differences.push(format!(
                        "{}, `{fixture}`, {column}: the doc says {cell}, measured {value}{}",
                        self.name,
                        match tolerance {
                            0 => String::new(),
                            t => format!(" (tolerance {t})"),
                        }
                    ))
                }
                Some(_) => {}
            }
        }
        differences
    }
}

/// What one check compares: a column of a doc table, the measured figures by fixture, and
/// how far a shown figure may be from the measured one (0 but for Xtensa's counts).
pub struct Check<'a> {
    pub doc: &'a str,
    pub table: &'a str,
    pub column: &'a str,
    pub measured: &'a BTreeMap<String, u64>,
    pub tolerance: u64,
}

/// A check of exact figures.
pub fn exact<'a>(
    doc: &'a str,
    table: &'a str,
    column: &'a str,
    measured: &'a BTreeMap<String, u64>,
) -> Check<'a> {
    Check {
        doc,
        table,
        column,
        measured,
        tolerance: 0,
    }
}

/// Fails, listing every stale figure and the command that rewrites them, unless each
/// check's column shows the measured figures.
pub fn assert_figures(checks: &[Check]) {
    let mut differences = Vec::new();
    let mut checked = 0;
    for check in checks {
        let Check {
            doc,
            table: id,
            column,
            measured,
            tolerance,
        } = check;
        assert!(
            !measured.is_empty(),
            "nothing measured for {doc} {id} {column}"
        );
        differences.extend(table(doc, id).differences(column, measured, *tolerance));
        checked += measured.len();
    }
    assert!(
        differences.is_empty(),
        "{} stale figures in the docs:\n  {}\nRewrite the tables with `{REGENERATE}` (from the \
         repository root), review the diff and commit it.",
        differences.len(),
        differences.join("\n  ")
    );
    println!("{checked} figures in the docs equal the measured ones");
}

type Counts = BTreeMap<String, super::mcu::Instructions>;

/// A runner's mean instructions per inference of `run` and of `predict`, by fixture.
fn run_and_predict(instructions: &Counts) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let pick = |field: fn(&super::mcu::Instructions) -> u64| {
        instructions
            .iter()
            .map(|(name, counts)| (name.clone(), field(counts)))
            .collect()
    };
    (pick(|c| c.run), pick(|c| c.predict))
}

/// The doc columns that show what the riscv32imc runner (qemu.rs) measures: the modules
/// generated with the ESP32-C3's profile, mcu-runner's release profile (opt-level 3), every
/// recorded sample.
pub fn assert_riscv32imc_instructions(instructions: &Counts) {
    let (run, predict) = run_and_predict(instructions);
    // minstret counts every instruction: the figures are exact and the same on every run.
    assert_figures(&[
        exact(
            "docs/performance.md",
            "riscv32imc",
            "instr. `run` opt 3",
            &run,
        ),
        exact(
            "docs/performance.md",
            "riscv32imc",
            "instr. `predict` opt 3",
            &predict,
        ),
        exact("docs/performance.md", "isa", "riscv32imc, esp32c3", &run),
    ]);
}

/// The doc columns that show what the Xtensa runner (xtensa.rs) measures: the modules of the
/// default profile (esp32s3), every recorded sample.
pub fn assert_xtensa_instructions(instructions: &Counts) {
    let (run, predict) = run_and_predict(instructions);
    // CCOUNT steps once per 25 instructions (xtensa-runner/src/rt.rs), at a phase that varies
    // from run to run: each count, and so each mean, is within 25 of the exact figure, and two
    // runs' means differ by less than 50 (by up to 6 between two runs here).
    let ccount = |column, measured| Check {
        doc: "docs/performance.md",
        table: "isa",
        column,
        measured,
        tolerance: 50,
    };
    assert_figures(&[
        ccount("Xtensa, esp32s3", &run),
        ccount("Xtensa `predict`", &predict),
    ]);
}
