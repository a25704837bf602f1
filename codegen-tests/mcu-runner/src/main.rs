//! Runs every onnx2esp fixture module bare-metal on riscv32imc (qemu-system-riscv32, virt
//! machine) and checks it against the recorded ONNX Runtime outputs, element by element.
//! The checks are in check.rs (shared with xtensa-runner); this file and rt.rs are the
//! riscv32imc side: startup, semihosting and the instruction counter (minstret).
#![no_std]
#![no_main]

mod check;
mod rt;

mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}

#[no_mangle]
extern "C" fn runner_main() -> ! {
    check::run_all("mcu-runner", "riscv32imc")
}
