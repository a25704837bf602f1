//! Runs every onnx2esp fixture module bare-metal on Xtensa under qemu-system-xtensa and checks
//! it against the recorded ONNX Runtime outputs, element by element.
//!
//! The checks are mcu-runner's (`../mcu-runner/src/check.rs`, included below); this crate
//! adds the Xtensa runtime (rt.rs and startup.S). It is compiled to LLVM IR for riscv32imc,
//! which the host test retargets to Xtensa: nothing here may depend on the riscv target
//! (no inline assembly; the Xtensa instructions are in startup.S).
#![no_std]

#[path = "../../mcu-runner/src/check.rs"]
mod check;
mod rt;

mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}

#[no_mangle]
pub extern "C" fn runner_main() -> ! {
    check::run_all("xtensa-runner", "xtensa (LLVM 22, esp32 CPU)")
}
