//! Embeds the fixtures, exactly as mcu-runner does (the same embed.rs). Linking is not
//! cargo's here: codegen-tests/tests/xtensa.rs links the Xtensa objects with startup.s and
//! xtensa-sim.ld.
//!
//! `XTENSA_RUNNER_SAMPLES=n` embeds at most n samples of every fixture (all by default).

use std::path::PathBuf;

#[path = "../mcu-runner/embed.rs"]
mod embed;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=../mcu-runner/embed.rs");
    println!("cargo:rerun-if-env-changed=XTENSA_RUNNER_SAMPLES");
    let limit: usize = std::env::var("XTENSA_RUNNER_SAMPLES")
        .ok()
        .map(|s| s.parse().expect("XTENSA_RUNNER_SAMPLES is a number"))
        .unwrap_or(usize::MAX);
    embed::write_fixtures(&manifest.join("../models"), &|_| limit);
}
