//! The README's two commands share one build: every compile unit of `cargo run` (the
//! `onnx2esp` binary with the default features) is also a unit of `cargo test --workspace`,
//! so that after either command the other compiles only its own targets.
//!
//! Compared on cargo's unit graph (`--unit-graph`, nightly cargo), unit by unit, on what
//! decides whether cargo reuses a compiled artifact: package, target, mode, features,
//! profile settings and platform, and the same of every dependency. A dependency whose
//! features differ between the two commands (say, a dev-dependency of codegen-tests that
//! turns on a feature, under a resolver that keeps dev-dependencies apart) fails here,
//! naming the unit; see the resolver note in the root Cargo.toml and docs/building.md.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The unit graph of `cargo +nightly ARGS --unit-graph`, run in the workspace.
fn unit_graph(args: &[&str]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Its own target directory: the one of the running `cargo test` may be locked.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared-build");
    let output = Command::new("cargo")
        .current_dir(root)
        .arg("+nightly")
        .args(args)
        .args([
            "--unit-graph",
            "-Z",
            "unstable-options",
            "--locked",
            "--target-dir",
        ])
        .arg(&target_dir)
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo +nightly: {e}"));
    assert!(
        output.status.success(),
        "cargo +nightly {} --unit-graph failed (is the nightly toolchain installed? \
         `cargo xtask setup` installs it):\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo's unit graph is JSON")
}

/// A unit's own identity (its dependencies aside), as a readable line.
fn describe(unit: &Value) -> String {
    let mut profile = unit["profile"].clone();
    // `dev` or `test`: the same settings under another name build the same artifact.
    profile.as_object_mut().expect("a profile").remove("name");
    format!(
        "{} {} {} features {} profile {} platform {}",
        unit["pkg_id"].as_str().expect("pkg_id"),
        unit["target"]["name"].as_str().expect("target name"),
        unit["mode"].as_str().expect("mode"),
        unit["features"],
        profile,
        unit["platform"]
    )
}

/// Every unit's identity with its dependencies' (recursively), by unit index.
fn identities(graph: &Value) -> Vec<String> {
    let units = graph["units"].as_array().expect("units");
    fn identity(units: &[Value], index: usize, memo: &mut BTreeMap<usize, String>) -> String {
        if let Some(known) = memo.get(&index) {
            return known.clone();
        }
        let unit = &units[index];
        let mut dependencies: Vec<String> = unit["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .map(|d| {
                let index = d["index"].as_u64().expect("dependency index") as usize;
                format!(
                    "{}={}",
                    d["extern_crate_name"],
                    identity(units, index, memo)
                )
            })
            .collect();
        dependencies.sort();
        let id = format!("{} [{}]", describe(unit), dependencies.join(", "));
        memo.insert(index, id.clone());
        id
    }
    let mut memo = BTreeMap::new();
    (0..units.len())
        .map(|i| identity(units, i, &mut memo))
        .collect()
}

#[test]
fn cargo_run_builds_nothing_that_cargo_test_workspace_does_not() {
    let run = unit_graph(&["build", "--bin", "onnx2esp"]);
    let test = unit_graph(&["test", "--workspace", "--no-run"]);
    let test_units: BTreeSet<String> = identities(&test).into_iter().collect();
    let test_own: BTreeSet<String> = test["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(describe)
        .collect();
    let run_units = run["units"].as_array().expect("units");
    let mut differing = Vec::new();
    let mut shared = 0;
    for (unit, identity) in run_units.iter().zip(identities(&run)) {
        if test_units.contains(&identity) {
            shared += 1;
        } else if !test_own.contains(&describe(unit)) {
            // Differs itself, not only through a dependency: a root cause.
            differing.push(describe(unit));
        }
    }
    assert!(
        shared == run_units.len(),
        "{} of the {} units `cargo run` builds are not units of `cargo test --workspace`, \
         so each command rebuilds them after the other. Those that differ themselves (not \
         only through a dependency):\n  {}",
        run_units.len() - shared,
        run_units.len(),
        differing.join("\n  ")
    );
    println!(
        "all {} units of `cargo run` are among the {} of `cargo test --workspace`",
        run_units.len(),
        test_units.len()
    );
}
