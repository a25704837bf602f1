/* Startup for the Xtensa runner under `qemu-system-xtensa -M sim -cpu de233_fpu`, windowed
   ABI (the ABI ESP-IDF uses, and the one LLVM's esp32 CPU compiles for).

   - .reset sits at the core's reset vector (0xfe000000): the sim machine starts there, not
     at the ELF entry. It jumps to _start.
   - _start sets up the register window (WINDOWBASE 0, WINDOWSTART 1), enables the FPU
     (coprocessor 0), points VECBASE at the vectors below, sets PS (WOE: window overflow
     exceptions on; UM: user vector mode; interrupt level 0), the stack and .bss, then calls
     runner_main (Rust) with callx8: binutils' ld rejects call8 relocations between objects.
   - The vectors: window overflow/underflow handlers for call4/8/12 frames (a call chain
     deeper than the 64 physical registers spills the oldest frames to their save areas on
     the stack, as the windowed ABI lays them out), and every other exception ends qemu
     with exit status 64 + EXCCAUSE after printing a line.
   - runner_simcall, runner_ccount, runner_calibration: what rt.rs calls.

   Literals (l32r reads them at lower addresses) are in .literal sections, which the linker
   script places before .text. */

    .section .vectors, "ax"
    .balign 1024
    .global _vectors
_vectors:

/* A call4 frame's a0-a3 go to the base save area, the 16 bytes below the callee's stack
   pointer (the callee's a1 is this frame's a5). */
    .org _vectors + 0x00
_WindowOverflow4:
    s32e a0, a5, -16
    s32e a1, a5, -12
    s32e a2, a5, -8
    s32e a3, a5, -4
    rfwo

    .org _vectors + 0x40
_WindowUnderflow4:
    l32e a0, a5, -16
    l32e a1, a5, -12
    l32e a2, a5, -8
    l32e a3, a5, -4
    rfwu

/* A call8 frame: a0-a3 to the base save area below the callee's stack pointer (a9); a4-a7
   to the extra save area at the top of this frame, found from the caller's stack pointer,
   which is saved at this frame's a1 - 12 (the caller was spilled first). */
    .org _vectors + 0x80
_WindowOverflow8:
    s32e a0, a9, -16
    l32e a0, a1, -12
    s32e a2, a9, -8
    s32e a1, a9, -12
    s32e a3, a9, -4
    s32e a4, a0, -32
    s32e a5, a0, -28
    s32e a6, a0, -24
    s32e a7, a0, -20
    rfwo

    .org _vectors + 0xc0
_WindowUnderflow8:
    l32e a1, a9, -12
    l32e a0, a9, -16
    l32e a7, a1, -12
    l32e a2, a9, -8
    l32e a4, a7, -32
    l32e a3, a9, -4
    l32e a5, a7, -28
    l32e a6, a7, -24
    l32e a7, a7, -20
    rfwu

/* A call12 frame: the same with a4-a11 in the extra save area. */
    .org _vectors + 0x100
_WindowOverflow12:
    s32e a0, a13, -16
    l32e a0, a1, -12
    s32e a1, a13, -12
    s32e a2, a13, -8
    s32e a3, a13, -4
    s32e a4, a0, -48
    s32e a5, a0, -44
    s32e a6, a0, -40
    s32e a7, a0, -36
    s32e a8, a0, -32
    s32e a9, a0, -28
    s32e a10, a0, -24
    s32e a11, a0, -20
    rfwo

    .org _vectors + 0x140
_WindowUnderflow12:
    l32e a1, a13, -12
    l32e a0, a13, -16
    l32e a11, a1, -12
    l32e a2, a13, -8
    l32e a4, a11, -48
    l32e a8, a11, -32
    l32e a3, a13, -4
    l32e a5, a11, -44
    l32e a6, a11, -40
    l32e a7, a11, -36
    l32e a9, a11, -28
    l32e a10, a11, -24
    l32e a11, a11, -20
    rfwu

/* Interrupt, kernel, user, double exception and the other vectors of the 1 KB table: none
   is expected, so each ends the run. */
    .org _vectors + 0x180
    j _fatal
    .org _vectors + 0x1c0
    j _fatal
    .org _vectors + 0x200
    j _fatal
    .org _vectors + 0x240
    j _fatal
    .org _vectors + 0x280
    j _fatal
    .org _vectors + 0x2c0
    j _fatal
    .org _vectors + 0x300
    j _fatal
    .org _vectors + 0x340
    j _fatal
    .org _vectors + 0x380
    j _fatal
    .org _vectors + 0x3c0
    j _fatal
    .org _vectors + 0x400

    .section .literal.start, "ax"
    .balign 4
.Lvectors:      .4byte _vectors
.Lps:           .4byte 0x00040020   /* PS.WOE (bit 18) | PS.UM (bit 5), INTLEVEL 0 */
.Lstack:        .4byte __stack_top - 32
.Lcaller_sp:    .4byte __stack_top
.Lbss_start:    .4byte __bss_start
.Lbss_end:      .4byte __bss_end
.Lmain:         .4byte runner_main
.Lfatal_text:   .4byte .Lfatal_message
.Lfatal_len:    .4byte .Lfatal_message_end - .Lfatal_message

    .section .text.start, "ax"
    .balign 4
    .global _start
_start:
    movi a0, 0
    wsr a0, windowbase
    rsync
    movi a0, 1
    wsr a0, windowstart
    wsr a0, cpenable
    rsync
    l32r a0, .Lvectors
    wsr a0, vecbase
    l32r a0, .Lps
    wsr a0, ps
    rsync
    /* _start's frame is the oldest: if it is ever spilled, its "caller's stack pointer" (read
       at a1 - 12) points just above, at 32 bytes reserved for its extra save area. */
    l32r a1, .Lstack
    l32r a0, .Lcaller_sp
    addi a2, a1, -16
    s32i a0, a2, 4
    l32r a2, .Lbss_start
    l32r a3, .Lbss_end
    movi a4, 0
1:  bgeu a2, a3, 2f
    s32i a4, a2, 0
    addi a2, a2, 4
    j 1b
2:  l32r a8, .Lmain
    callx8 a8
3:  j 3b

/* Prints a line, then exits qemu with status 64 + EXCCAUSE (run qemu with `-d int` to see
   the faulting PC). */
_fatal:
    movi a2, 4
    movi a3, 1
    l32r a4, .Lfatal_text
    l32r a5, .Lfatal_len
    .byte 0x00, 0x51, 0x00      /* simcall: write */
    rsr a3, exccause
    addi a3, a3, 64
    movi a2, 1
    .byte 0x00, 0x51, 0x00      /* simcall: exit */

    .section .text.runtime, "ax"
    .balign 4
    .global runner_simcall
runner_simcall:
    entry a1, 32
    /* a2 = operation, a3..a5 = arguments; qemu returns the result in a2. The assembler knows
       no `simcall` mnemonic, hence the bytes. */
    .byte 0x00, 0x51, 0x00
    retw

    .balign 4
    .global runner_ccount
runner_ccount:
    entry a1, 32
    rsr a2, ccount
    retw

    .balign 4
    .global runner_calibration
runner_calibration:
    entry a1, 32
    movi a3, 1000
    rsr a4, ccount
1:  addi a3, a3, -1
    bnez a3, 1b
    rsr a5, ccount
    sub a2, a5, a4
    retw

    .section .rodata.runtime, "a"
.Lfatal_message:
    .ascii "FATAL: CPU exception; qemu exits with status 64 + EXCCAUSE\n"
.Lfatal_message_end:

    .section .reset, "ax"
    .global _reset
_reset:
    j 1f
    .balign 4
.Lstart: .4byte _start
1:  l32r a0, .Lstart
    jx a0
    .section .note.GNU-stack, "", @progbits
