//! Runs every onnx2esp fixture module bare-metal on riscv32imc (qemu-system-riscv32, virt
//! machine) and checks it against the recorded ONNX Runtime outputs, element by element.
//!
//! For each fixture and recorded sample it calls `predict` (f32 in and out, so the input
//! quantization and output dequantization run on the MCU too) and `run` (int8), and checks:
//! - every `predict` output element is within the fixture's tolerance of ONNX Runtime (0 LSB,
//!   i.e. bit-exact, unless build.rs lists a justified tolerance) and the argmax agrees;
//! - `run` on the int8 input gives exactly the int8 values behind `predict`'s output.
//!
//! It prints one `out` line of int8 outputs per sample (the host test compares them with the
//! same module run on the host, which must agree bit for bit), the instructions per
//! inference (minstret), a summary, and exits qemu with status 0 on success, 1 on failure.
#![no_std]
#![no_main]

mod rt;

mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}

/// The overall verdict.
pub struct Report {
    pub fixtures: usize,
    pub failures: usize,
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

/// 2^e as f32, exact for the exponents of int8 tensors.
fn pow2(e: i32) -> f32 {
    let mut v = 1f32;
    for _ in 0..e.unsigned_abs() {
        v = if e < 0 { v * 0.5 } else { v * 2.0 };
    }
    v
}

/// `|v|` (core has no `f32::abs` without std); NaN stays NaN.
fn abs(v: f32) -> f32 {
    f32::from_bits(v.to_bits() & 0x7fff_ffff)
}

/// min, mean, max
struct Counts {
    min: u64,
    max: u64,
    sum: u64,
    n: u64,
}

impl Counts {
    const fn new() -> Self {
        Counts {
            min: u64::MAX,
            max: 0,
            sum: 0,
            n: 0,
        }
    }
    fn add(&mut self, v: u64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.n += 1;
    }
    fn mean(&self) -> u64 {
        self.sum / self.n.max(1)
    }
}

#[macro_export]
macro_rules! check_fixture {
    ($report:expr, $fx:ident) => {{
        use $crate::fixtures::$fx as fx;
        use fx::model;
        let mut m = model::Model::new();
        let lsb = $crate::pow2(model::OUTPUT_EXPONENT);
        let (mut exact, mut elements, mut max_lsb, mut argmax_agree, mut correct, mut errors) =
            (0usize, 0usize, 0f32, 0usize, 0usize, 0usize);
        let mut run_counts = $crate::Counts::new();
        let mut predict_counts = $crate::Counts::new();
        for i in 0..fx::SAMPLES {
            let mut y = [0f32; model::OUTPUT_LEN];
            let t0 = $crate::rt::instret();
            m.predict(&fx::INPUTS[i], &mut y);
            let t1 = $crate::rt::instret();
            predict_counts.add(t1 - t0);

            let mut q = [0i8; model::OUTPUT_LEN];
            let t0 = $crate::rt::instret();
            m.run(&fx::INPUTS_Q[i], &mut q);
            let t1 = $crate::rt::instret();
            run_counts.add(t1 - t0);

            for k in 0..model::OUTPUT_LEN {
                elements += 1;
                let expected = fx::EXPECTED[i][k];
                if y[k] == expected {
                    exact += 1;
                }
                // The difference in LSBs, not truncated: a half-LSB difference counts. A NaN on
                // either side fails (`!(diff <= tolerance)`) and makes the maximum NaN.
                let diff = $crate::abs(y[k] - expected) / lsb;
                if !(diff <= max_lsb) {
                    max_lsb = diff;
                }
                if !(diff <= fx::TOLERANCE_LSB as f32) {
                    errors += 1;
                    $crate::println!(
                        "MISMATCH {} sample {} element {}: got {:?}, onnxruntime {:?}",
                        fx::NAME, i, k, y[k], expected
                    );
                }
                if q[k] as f32 * lsb != y[k] {
                    errors += 1;
                    $crate::println!(
                        "MISMATCH {} sample {} element {}: run gave {}, predict {:?}",
                        fx::NAME, i, k, q[k], y[k]
                    );
                }
            }
            if $crate::argmax(&y) == $crate::argmax(&fx::EXPECTED[i]) {
                argmax_agree += 1;
            } else {
                errors += 1;
                $crate::println!("MISMATCH {} sample {}: argmax differs", fx::NAME, i);
            }
            if $crate::argmax(&y) == fx::LABELS[i] {
                correct += 1;
            }
            // The int8 outputs, for the host test's bit-exact comparison.
            {
                use core::fmt::Write as _;
                let mut c = $crate::rt::Console::new();
                let _ = write!(c, "out {} {}", fx::NAME, i);
                for v in q {
                    let _ = write!(c, " {}", v);
                }
                let _ = writeln!(c);
                c.flush();
            }
        }
        $crate::println!(
            "fixture {}: {} samples, {}/{} elements exact, max diff {} LSB (allowed {}), argmax {}/{}, labels {}/{}, arena {} bytes",
            fx::NAME, fx::SAMPLES, exact, elements, max_lsb, fx::TOLERANCE_LSB,
            argmax_agree, fx::SAMPLES, correct, fx::SAMPLES, model::ARENA_BYTES
        );
        $crate::println!(
            "instructions {}: run {} per inference (min {}, max {}), predict {} (min {}, max {})",
            fx::NAME, run_counts.mean(), run_counts.min, run_counts.max,
            predict_counts.mean(), predict_counts.min, predict_counts.max
        );
        $report.fixtures += 1;
        if errors > 0 {
            $report.failures += 1;
            $crate::println!("fixture {}: FAIL ({} mismatches)", fx::NAME, errors);
        } else {
            $crate::println!("fixture {}: PASS", fx::NAME);
        }
    }};
}

/// Calibrates the counter: a loop of known length (addi + bnez per iteration).
fn calibration() -> u64 {
    let n: u32 = 1000;
    let t0 = rt::instret();
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
    let t1 = rt::instret();
    t1 - t0
}

#[no_mangle]
extern "C" fn runner_main() -> ! {
    println!("mcu-runner: riscv32imc, onnx2esp fixtures against ONNX Runtime");
    println!(
        "calibration: a 2000-instruction loop counts {}",
        calibration()
    );
    let mut report = Report {
        fixtures: 0,
        failures: 0,
    };
    fixtures::check_all(&mut report);
    for (name, why) in fixtures::SKIPPED {
        println!("skipped {name}: {why}");
    }
    let ok = report.failures == 0 && report.fixtures > 0;
    println!(
        "RESULT {}: {} fixtures, {} failed",
        if ok { "PASS" } else { "FAIL" },
        report.fixtures,
        report.failures
    );
    rt::exit(ok)
}
