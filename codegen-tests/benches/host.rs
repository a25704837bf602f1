//! Host time per inference of every whole-model fixture: the generated module's `Model::run`
//! against tract-onnx running the same ONNX model (`into_optimized()`, tract's default
//! single-thread executor), on the inputs ONNX Runtime's recording holds. Prints a markdown
//! table; asserts nothing, and is not part of `cargo test`.
//!
//!     cargo bench -p codegen-tests
//!
//! Each figure is the median over ROUNDS timed rounds; a round runs every sample (at most
//! MAX_SAMPLES) enough times to last at least ROUND_TIME, and is divided by the number of
//! inferences. The median, not the best, because the machines this runs on are shared: it is
//! the typical time under the same load for both engines.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use codegen_tests::{
    digits_esppq, digits_qat, kws1d_esppq, mobilenet_v2_esppq, residual_cnn_esppq,
};
use tract_onnx::prelude::*;

const ROUNDS: usize = 11;
const ROUND_TIME: Duration = Duration::from_millis(30);
const MAX_SAMPLES: usize = 16;

/// `Model::run` of one generated module, on slices.
type Inference = Box<dyn FnMut(&[i8], &mut [i8])>;

/// One whole-model fixture: its name, MAC count and an inference on int8 inputs.
struct Fixture {
    name: &'static str,
    macs: u64,
    input_shape: &'static [usize],
    input_exponent: i32,
    run: Inference,
    output_len: usize,
}

/// The MAC count the generator wrote in the module's header (`... MACs: N.`).
fn header_macs(code: &str) -> u64 {
    code.lines()
        .find_map(|line| {
            line.split_once("MACs: ")?
                .1
                .trim_end_matches('.')
                .parse()
                .ok()
        })
        .expect("the module header states its MACs")
}

macro_rules! fixture {
    ($m:ident) => {{
        use $m as m;
        // Boxed: the larger models' arenas do not belong on the stack.
        let mut model = Box::new(m::Model::new());
        Fixture {
            name: stringify!($m),
            macs: header_macs(include_str!(concat!(
                env!("OUT_DIR"),
                "/",
                stringify!($m),
                ".rs"
            ))),
            input_shape: &m::INPUT_SHAPE,
            input_exponent: m::INPUT_EXPONENT,
            run: Box::new(move |x: &[i8], y: &mut [i8]| {
                model.run(
                    x.try_into().expect("input length"),
                    y.try_into().expect("output length"),
                )
            }),
            output_len: m::OUTPUT_LEN,
        }
    }};
}

/// `sat(round_half_even(x * 2^-e))`, the input quantization of docs/numerics.md (exact in f64).
fn quantize(x: f32, exponent: i32) -> i8 {
    (x as f64 * 2f64.powi(-exponent))
        .round_ties_even()
        .clamp(-128.0, 127.0) as i8
}

/// Median nanoseconds per inference of `infer(sample)` over `samples` samples.
fn time_per_inference(samples: usize, mut infer: impl FnMut(usize)) -> f64 {
    // Warm up, and find how many passes over the samples fill one round.
    let started = Instant::now();
    let mut passes = 0;
    while started.elapsed() < ROUND_TIME || passes == 0 {
        (0..samples).for_each(&mut infer);
        passes += 1;
    }
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..passes {
                (0..samples).for_each(&mut infer);
            }
            started.elapsed().as_nanos() as f64 / (passes * samples) as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

/// tract's time per inference, and how many of its output elements equal ONNX Runtime's.
fn tract(
    fixture: &Fixture,
    inputs: &[Vec<f32>],
    expected: &[Vec<f32>],
) -> TractResult<(f64, usize)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(format!("{}.onnx", fixture.name));
    let plan = tract_onnx::onnx()
        .model_for_path(path)?
        .into_optimized()?
        .into_runnable()?;
    let mut state = plan.spawn()?;
    let tensors = inputs
        .iter()
        .map(|x| Tensor::from_shape(fixture.input_shape, x).map(TValue::from))
        .collect::<TractResult<Vec<_>>>()?;
    let mut agreeing = 0;
    for (x, y) in tensors.iter().zip(expected) {
        let out = state.run(tvec!(x.clone()))?;
        let got = out[0].cast_to::<f32>()?;
        agreeing += got
            .try_as_plain_ram()?
            .as_slice::<f32>()?
            .iter()
            .zip(y)
            .filter(|(g, e)| g == e)
            .count();
    }
    let ns = time_per_inference(tensors.len(), |i| {
        black_box(state.run(tvec!(tensors[i].clone())).expect("tract runs"));
    });
    Ok((ns, agreeing))
}

fn main() {
    let fixtures = [
        fixture!(digits_qat),
        fixture!(digits_esppq),
        fixture!(residual_cnn_esppq),
        fixture!(kws1d_esppq),
        fixture!(mobilenet_v2_esppq),
    ];
    let mut notes = Vec::new();
    println!(
        "median of {ROUNDS} rounds of at least {ROUND_TIME:?}, up to {MAX_SAMPLES} recorded inputs per fixture\n"
    );
    println!("| fixture | MACs | generated ns/inference | tract ns/inference | speed-up | MACs/ns (generated) |");
    println!("|---|---|---|---|---|---|");
    // Every generated module is timed before tract first runs: on this 2-vCPU machine, once
    // tract has run, whatever runs next in the process is slower (MobileNetV2's generated
    // code took 3.2 ms before any tract run and 7.5 ms after one), so interleaving the two
    // would charge tract's leftovers to the generated code.
    let mut measured = Vec::new();
    for mut fixture in fixtures {
        let recording = common::load(fixture.name);
        let samples = recording.inputs.len().min(MAX_SAMPLES);
        let quantized: Vec<Vec<i8>> = recording.inputs[..samples]
            .iter()
            .map(|x| {
                x.iter()
                    .map(|&v| quantize(v, fixture.input_exponent))
                    .collect()
            })
            .collect();
        let mut output = vec![0i8; fixture.output_len];
        let run = &mut fixture.run;
        let generated = time_per_inference(samples, |i| {
            run(black_box(&quantized[i]), &mut output);
            black_box(&output);
        });
        measured.push((fixture, recording, samples, generated));
    }
    for (fixture, recording, samples, generated) in measured {
        let (inputs, expected) = (&recording.inputs[..samples], &recording.outputs[..samples]);
        let (tract_ns, speed_up) = match tract(&fixture, inputs, expected) {
            Ok((ns, agreeing)) => {
                notes.push(format!(
                    "{}: tract's outputs equal ONNX Runtime's on {agreeing}/{} elements",
                    fixture.name,
                    samples * fixture.output_len
                ));
                (format!("{ns:.0}"), format!("{:.1}×", ns / generated))
            }
            Err(e) => {
                notes.push(format!("{}: tract failed: {e:#}", fixture.name));
                ("—".into(), "—".into())
            }
        };
        println!(
            "| `{}` | {} | {generated:.0} | {tract_ns} | {speed_up} | {:.2} |",
            fixture.name,
            fixture.macs,
            fixture.macs as f64 / generated
        );
    }
    println!();
    for note in notes {
        println!("{note}");
    }
}
