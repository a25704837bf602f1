//! Prepares the riscv32imc runner:
//! - embeds the fixtures (embed.rs, shared with xtensa-runner): the modules onnx2esp generated
//!   in `$ONNX2ESP_GENERATED_DIR` (the host test passes codegen-tests' own OUT_DIR, so the
//!   generator is never rebuilt for riscv) and their recordings in `../models/`;
//! - links with its own linker script, qemu-virt.ld.

use std::path::PathBuf;

mod embed;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());

    std::fs::copy(manifest.join("qemu-virt.ld"), out.join("qemu-virt.ld")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    // Here rather than in .cargo/config.toml, so that a RUSTFLAGS from the environment (which
    // replaces config rustflags) cannot drop it.
    println!("cargo:rustc-link-arg=-Tqemu-virt.ld");
    println!("cargo:rerun-if-changed=qemu-virt.ld");
    println!("cargo:rerun-if-changed=embed.rs");

    println!("cargo:rerun-if-env-changed=MCU_RUNNER_SAMPLES");
    let limit: usize = std::env::var("MCU_RUNNER_SAMPLES")
        .ok()
        .map(|s| s.parse().expect("MCU_RUNNER_SAMPLES is a number"))
        .unwrap_or(usize::MAX);
    embed::write_fixtures(&manifest.join("../models"), &|_| limit);
}
