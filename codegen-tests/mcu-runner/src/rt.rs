//! Minimal bare-metal runtime for qemu-system-riscv32 `-machine virt -bios none`: startup,
//! a trap handler, semihosting write and exit, the panic handler and the instruction counter.


core::arch::global_asm!(
    r#"
    .section .text.start, "ax"
    .globl _start
_start:
    la sp, __stack_top
    la t0, _trap
    csrw mtvec, t0
    la t0, __bss_start
    la t1, __bss_end
1:
    bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:
    call runner_main
3:
    j 3b

    .section .text.trap, "ax"
    .balign 4
_trap:
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call trap_handler
4:
    j 4b

    /* The RISC-V semihosting call: a0 = operation, a1 = parameter, result in a0. The three
       instructions must be uncompressed and must not straddle a page. */
    .section .text.semihosting, "ax"
    .globl semihosting_call
    .balign 16
semihosting_call:
    .option push
    .option norvc
    slli x0, x0, 0x1f
    ebreak
    srai x0, x0, 7
    .option pop
    ret
"#
);

extern "C" {
    fn semihosting_call(op: usize, arg: usize) -> usize;
}

const SYS_WRITE0: usize = 0x04;
const SYS_EXIT: usize = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
const ADP_STOPPED_RUNTIME_ERROR_UNKNOWN: usize = 0x20023;

/// Ends the qemu process: exit status 0 when `success`, 1 otherwise (on RV32, QEMU maps
/// ADP_Stopped_ApplicationExit to 0 and any other reason to 1).
pub fn exit(success: bool) -> ! {
    let reason = if success {
        ADP_STOPPED_APPLICATION_EXIT
    } else {
        ADP_STOPPED_RUNTIME_ERROR_UNKNOWN
    };
    // SAFETY: SYS_EXIT takes the reason as its parameter and does not return under qemu.
    unsafe { semihosting_call(SYS_EXIT, reason) };
    loop {}
}

/// Retired instructions (minstret/minstreth). Under qemu with `-icount shift=0` this counts
/// executed guest instructions; without -icount qemu returns host ticks instead.
#[inline(always)]
pub fn instret() -> u64 {
    loop {
        let (hi, lo, hi2): (u32, u32, u32);
        // SAFETY: reading machine counters has no side effects.
        unsafe {
            core::arch::asm!(
                "csrr {0}, minstreth",
                "csrr {1}, minstret",
                "csrr {2}, minstreth",
                out(reg) hi, out(reg) lo, out(reg) hi2,
                options(nomem, nostack),
            );
        }
        if hi == hi2 {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

/// Writes `bytes` (NUL-terminated) to the semihosting console.
pub fn write(bytes: &[u8]) {
    debug_assert_eq!(bytes.last(), Some(&0));
    // SAFETY: the bytes end with a NUL and live across the call.
    unsafe { semihosting_call(SYS_WRITE0, bytes.as_ptr() as usize) };
}

/// Calibrates the counter: a loop of known length (addi + bnez per iteration).
pub fn calibration() -> u64 {
    let n: u32 = 1000;
    let t0 = instret();
    // SAFETY: register-only loop.
    unsafe {
        core::arch::asm!(
            "1:",
            "addi {n}, {n}, -1",
            "bnez {n}, 1b",
            n = inout(reg) n => _,
            options(nomem, nostack),
        );
    }
    let t1 = instret();
    t1 - t0
}

#[no_mangle]
extern "C" fn trap_handler(mcause: usize, mepc: usize, mtval: usize) -> ! {
    crate::println!("TRAP mcause={mcause:#x} mepc={mepc:#x} mtval={mtval:#x}");
    exit(false)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("PANIC {info}");
    exit(false)
}
