//! The Rust side of the Xtensa runtime: the routines in startup.S (instruction counter,
//! simcall), the semihosting console and exit, and the panic handler.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

extern "C" {
    /// qemu's Xtensa semihosting call: a2 = operation, a3..a5 = arguments, result in a2.
    fn runner_simcall(op: u32, a: u32, b: u32, c: u32) -> i32;
    /// CCOUNT: see [`NS_PER_CYCLE`].
    fn runner_ccount() -> u32;
    /// CCOUNT's difference over a 1000-iteration `addi` + `bnez` loop.
    fn runner_calibration() -> u32;
}

const SYS_EXIT: u32 = 1;
const SYS_WRITE: u32 = 4;
const STDOUT: u32 = 1;

/// Ends the qemu process with exit status 0 when `success`, 1 otherwise.
pub fn exit(success: bool) -> ! {
    // SAFETY: SYS_EXIT takes the status and does not return under qemu.
    unsafe { runner_simcall(SYS_EXIT, u32::from(!success), 0, 0) };
    loop {}
}

/// Writes `bytes` (NUL-terminated; the NUL is not written) to qemu's standard output.
pub fn write(bytes: &[u8]) {
    let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    // SAFETY: the simcall reads `text.len()` bytes from the pointer during the call.
    unsafe { runner_simcall(SYS_WRITE, STDOUT, text.as_ptr() as u32, text.len() as u32) };
}

/// Under `-icount shift=0` qemu advances virtual time by exactly 1 ns per executed
/// instruction, and CCOUNT is that time at the core's clock, 40 MHz for de233_fpu: one
/// CCOUNT step per 25 instructions. Counts are therefore multiples of 25, within 25 of the
/// exact number (the calibration line shows it: 2000 instructions).
const NS_PER_CYCLE: u64 = 25;

static HIGH: AtomicU32 = AtomicU32::new(0);
static LAST: AtomicU32 = AtomicU32::new(0);

/// Executed instructions, from CCOUNT widened to 64 bits (it wraps after 2^32 steps; it is
/// read at least once per inference, far more often than that).
pub fn instret() -> u64 {
    // SAFETY: reads a special register.
    let now = unsafe { runner_ccount() };
    if now < LAST.load(Relaxed) {
        HIGH.store(HIGH.load(Relaxed) + 1, Relaxed);
    }
    LAST.store(now, Relaxed);
    ((u64::from(HIGH.load(Relaxed)) << 32) | u64::from(now)) * NS_PER_CYCLE
}

/// Calibrates the counter: a loop of known length (addi + bnez per iteration).
pub fn calibration() -> u64 {
    // SAFETY: register-only loop.
    u64::from(unsafe { runner_calibration() }) * NS_PER_CYCLE
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("PANIC {info}");
    exit(false)
}
