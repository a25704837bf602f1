//! The sample loop and the checks, shared by mcu-runner (riscv32imc) and xtensa-runner
//! (which includes this file with `#[path]`), so that both ISAs are held to the same rules.
//!
//! For each fixture and recorded sample it calls `predict` (f32 in and out, so the input
//! quantization and output dequantization run on the MCU too) and `run` (on integers: int8, or
//! int16 for a port quantized to int16), and checks:
//! - every `predict` output element is within the fixture's tolerance of ONNX Runtime (0 LSB,
//!   i.e. bit-exact, unless embed.rs lists a justified tolerance; the difference is not
//!   truncated to whole LSBs, and a NaN on either side fails) and the argmax agrees;
//! - `run` on the quantized input gives exactly the integers behind `predict`'s output.
//!
//! It prints one `out` line of integer outputs per sample (the host tests compare them with the
//! same module run on the host, which must agree bit for bit), the instructions per
//! inference, a summary, and exits qemu with status 0 on success, 1 on failure.
//!
//! The crate root provides `mod fixtures` (embed.rs's output) and `mod rt`, the runtime:
//! `instret() -> u64` (instructions retired, exact under `-icount shift=0`),
//! `calibration() -> u64` (the count of a 2000-instruction loop), `write(&[u8])` (bytes
//! followed by a NUL) and `exit(bool) -> !`.

use core::fmt::{self, Write};

/// The overall verdict.
pub struct Report {
    pub fixtures: usize,
    pub failures: usize,
}

pub fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

/// 2^e as f32, exact for the exponents of int8 tensors.
pub fn pow2(e: i32) -> f32 {
    let mut v = 1f32;
    for _ in 0..e.unsigned_abs() {
        v = if e < 0 { v * 0.5 } else { v * 2.0 };
    }
    v
}

/// `|v|` (core has no `f32::abs` without std); NaN stays NaN.
pub fn abs(v: f32) -> f32 {
    f32::from_bits(v.to_bits() & 0x7fff_ffff)
}

/// min, mean, max
pub struct Counts {
    pub min: u64,
    pub max: u64,
    sum: u64,
    n: u64,
}

impl Counts {
    pub const fn new() -> Self {
        Counts {
            min: u64::MAX,
            max: 0,
            sum: 0,
            n: 0,
        }
    }
    pub fn add(&mut self, v: u64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.n += 1;
    }
    pub fn mean(&self) -> u64 {
        self.sum / self.n.max(1)
    }
}

#[macro_export]
macro_rules! check_fixture {
    ($report:expr, $fx:ident) => {{
        use $crate::fixtures::$fx as fx;
        use fx::model;
        let mut m = model::Model::new();
        let lsb = $crate::check::pow2(model::OUTPUT_EXPONENT);
        let (mut exact, mut elements, mut max_lsb, mut argmax_agree, mut correct, mut errors) =
            (0usize, 0usize, 0f32, 0usize, 0usize, 0usize);
        let mut run_counts = $crate::check::Counts::new();
        let mut predict_counts = $crate::check::Counts::new();
        for i in 0..fx::SAMPLES {
            let mut y = [0f32; model::OUTPUT_LEN];
            let t0 = $crate::rt::instret();
            m.predict(&fx::INPUTS[i], &mut y);
            let t1 = $crate::rt::instret();
            predict_counts.add(t1.wrapping_sub(t0));

            // int8 or int16, as the module's output port (inferred from `run`).
            let mut q = [0; model::OUTPUT_LEN];
            let t0 = $crate::rt::instret();
            m.run(&fx::INPUTS_Q[i], &mut q);
            let t1 = $crate::rt::instret();
            run_counts.add(t1.wrapping_sub(t0));

            for k in 0..model::OUTPUT_LEN {
                elements += 1;
                let expected = fx::EXPECTED[i][k];
                if y[k] == expected {
                    exact += 1;
                }
                // The difference in LSBs, not truncated: a half-LSB difference counts. A NaN on
                // either side fails (`!(diff <= tolerance)`) and makes the maximum NaN.
                let diff = $crate::check::abs(y[k] - expected) / lsb;
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
            if $crate::check::argmax(&y) == $crate::check::argmax(&fx::EXPECTED[i]) {
                argmax_agree += 1;
            } else {
                errors += 1;
                $crate::println!("MISMATCH {} sample {}: argmax differs", fx::NAME, i);
            }
            if Some($crate::check::argmax(&y)) == fx::LABELS[i] {
                correct += 1;
            }
            // The integer outputs, for the host test's bit-exact comparison.
            {
                use core::fmt::Write as _;
                let mut c = $crate::check::Console::new();
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

/// `Model::self_test` on the device: the module with ONNX Runtime's samples embedded must pass,
/// and its copy with one expected element a step off must report sample 5, element 7 (as
/// codegen-tests' build.rs made it).
#[macro_export]
macro_rules! check_self_test {
    ($report:expr) => {{
        use crate::fixtures::{self_test_corrupted as bad, self_test_passing as good};
        let passing = good::Model::new().self_test();
        let corrupted = bad::Model::new().self_test();
        let found = corrupted.err().map(|m| (m.sample, m.element, m.expected - m.actual));
        match passing {
            Ok(()) => $crate::println!("self_test digits_qat_self_test: Ok"),
            Err(m) => $crate::println!(
                "self_test digits_qat_self_test: sample {} element {}: expected {}, got {}",
                m.sample, m.element, m.expected, m.actual
            ),
        }
        match found {
            Some((sample, element, by)) => $crate::println!(
                "self_test digits_qat_self_test_corrupted: sample {} element {} off by {}",
                sample, element, by
            ),
            None => $crate::println!("self_test digits_qat_self_test_corrupted: Ok"),
        }
        $report.fixtures += 1;
        if passing.is_ok() && found == Some((5, 7, 1)) {
            $crate::println!("self_test: PASS");
        } else {
            $report.failures += 1;
            $crate::println!("self_test: FAIL");
        }
    }};
}

/// Streaming on the device: the keyword spotter fed one frame per `run` must give, after the
/// last frame, exactly what the whole-sequence module gives; `reset_state` between sequences.
/// Prints `stream kws_gru_pt SAMPLE v v v ...` (the host test compares them with the host's
/// module) and the instructions per frame.
#[macro_export]
macro_rules! check_streaming {
    ($report:expr) => {{
        use crate::fixtures::{stream_inputs as data, stream_step as step, stream_whole as whole};
        let mut errors = 0usize;
        let mut frames = $crate::check::Counts::new();
        let mut sequences = $crate::check::Counts::new();
        let mut stream = step::Model::new();
        for (i, x) in data::INPUTS_Q.iter().enumerate() {
            let mut expected = [0i8; whole::OUTPUT_LEN];
            let mut model = whole::Model::new();
            let t0 = $crate::rt::instret();
            model.run(x, &mut expected);
            sequences.add($crate::rt::instret().wrapping_sub(t0));
            stream.reset_state();
            let mut y = [0i8; step::OUTPUT_LEN];
            for frame in x.chunks_exact(step::INPUT_LEN) {
                let frame: &[i8; step::INPUT_LEN] = frame.try_into().unwrap_or(&[0; step::INPUT_LEN]);
                let t0 = $crate::rt::instret();
                stream.run(frame, &mut y);
                frames.add($crate::rt::instret().wrapping_sub(t0));
            }
            if y[..] != expected[..] {
                errors += 1;
                $crate::println!("MISMATCH streaming kws_gru_pt sample {}: frame by frame differs from whole", i);
            }
            {
                use core::fmt::Write as _;
                let mut c = $crate::check::Console::new();
                let _ = write!(c, "stream kws_gru_pt {}", i);
                for v in y {
                    let _ = write!(c, " {}", v);
                }
                let _ = writeln!(c);
                c.flush();
            }
        }
        $crate::println!(
            "streaming kws_gru_pt instructions: {} per frame, {} per whole sequence",
            frames.mean(),
            sequences.mean()
        );
        $report.fixtures += 1;
        if errors > 0 {
            $report.failures += 1;
            $crate::println!("streaming kws_gru_pt: FAIL");
        } else {
            $crate::println!("streaming kws_gru_pt: PASS");
        }
    }};
}

/// Line-buffered console over the runtime's semihosting write.
pub struct Console {
    buf: [u8; 256],
    len: usize,
}

impl Console {
    pub const fn new() -> Self {
        Console {
            buf: [0; 256],
            len: 0,
        }
    }
    pub fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        self.buf[self.len] = 0;
        crate::rt::write(&self.buf[..=self.len]);
        self.len = 0;
    }
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() - 1 {
                self.flush();
            }
            self.buf[self.len] = if b == 0 { b'?' } else { b };
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut c = $crate::check::Console::new();
        let _ = writeln!(c, $($arg)*);
        c.flush();
    }};
}

/// Checks every embedded fixture, prints the summary and ends qemu.
pub fn run_all(runner: &str, isa: &str) -> ! {
    crate::println!("{runner}: {isa}, onnx2esp fixtures against ONNX Runtime");
    crate::println!(
        "calibration: a 2000-instruction loop counts {}",
        crate::rt::calibration()
    );
    let mut report = Report {
        fixtures: 0,
        failures: 0,
    };
    crate::fixtures::check_all(&mut report);
    for (name, why) in crate::fixtures::SKIPPED {
        crate::println!("skipped {name}: {why}");
    }
    let ok = report.failures == 0 && report.fixtures > 0;
    crate::println!(
        "RESULT {}: {} fixtures, {} failed",
        if ok { "PASS" } else { "FAIL" },
        report.fixtures,
        report.failures
    );
    crate::rt::exit(ok)
}
