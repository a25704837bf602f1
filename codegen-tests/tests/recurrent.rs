//! The LSTM and GRU fixtures of `models/recurrent/` against ONNX Runtime, and streaming: a
//! sequence fed one step per `run` gives exactly what it gives fed whole.
//!
//! ONNX Runtime runs the recurrent op itself in float (its sigmoid and tanh, an f32 hidden
//! state that no QuantizeLinear rounds between steps); the generated layer runs in fixed point
//! (docs/numerics.md, "LSTM and GRU"): Q24 gates, sigmoid and tanh within 6e-6 of exact, the
//! hidden state fed back as int16 at 2^-15. A result that lands within that error of a rounding
//! boundary of the output can round the other way: so every element must be within 1 LSB, and
//! every sample's argmax must agree. How many are exact depends on the output's step: an int8
//! output (a step of 2^-7 or more) is at least 99% exact. An int16 output's step (2^-14 in
//! `gru_reverse_int16`) is only four times the hidden state's own (2^-16 of rounding per step,
//! carried through the recurrence) plus the tables' (up to 6e-6): about one element in eight
//! lands that close to a boundary, so it must be at least 90% exact.

mod common;
#[path = "common/modules.rs"]
mod modules;

use modules::MODULES;

#[test]
fn every_recurrent_fixture_is_within_one_lsb_of_onnx_runtime() {
    let fixtures: Vec<_> = MODULES
        .iter()
        .filter(|m| m.is_recurrent_fixture())
        .collect();
    assert!(
        fixtures.len() >= 8,
        "build.rs found {} recurrent fixtures",
        fixtures.len()
    );
    // docs/fixtures.md shows each fixture's figures: they must be the ones measured here.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/fixtures.md"))
        .expect("read docs/fixtures.md");
    let mut failures = Vec::new();
    let (mut elements, mut exact) = (0, 0);
    for fixture in fixtures {
        let output = &fixture.outputs[0];
        let agreement = common::fixture_agreement(
            fixture.name,
            fixture.recording,
            &[fixture.inputs[0].len],
            (output.len, output.exponent),
            fixture.predict,
        );
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", fixture.name)))
            .unwrap_or_default();
        let figures = format!("| {}/{} ", agreement.exact_elements, agreement.elements);
        if !row.contains(&figures) || !row.contains(&format!("| {} LSB |", agreement.max_lsb)) {
            failures.push(format!(
                "{}: docs/fixtures.md says `{row}`, measured {}/{} exact, {} LSB",
                fixture.name, agreement.exact_elements, agreement.elements, agreement.max_lsb
            ));
        }
        elements += agreement.elements;
        exact += agreement.exact_elements;
        let share = agreement.exact_elements as f64 / agreement.elements as f64;
        let least = if output.ty == "i16" { 0.90 } else { 0.99 };
        if agreement.max_lsb > 1.0 || share < least || agreement.argmax_agree != agreement.samples {
            failures.push(format!("{}: {agreement:?}", fixture.name));
        }
    }
    println!("all recurrent fixtures: {exact}/{elements} elements exact");
    assert!(
        failures.is_empty(),
        "beyond the bound:\n{}",
        failures.join("\n")
    );
}

/// Runs a whole-sequence module and its twin for shorter chunks over every recorded sample:
/// `sequence` (Y): the chunks' outputs, one after another, must equal the whole output bit for
/// bit; `last` (a Y_h model): the last chunk's output must equal the whole one. `reset_state`
/// must start the next sequence afresh.
macro_rules! streaming_equals_whole {
    ($test:ident, $whole:ident, $step:ident, $mode:ident) => {
        #[test]
        fn $test() {
            use codegen_tests::recurrent::$whole as whole;
            use codegen_tests::streaming::$step as step;
            assert_eq!(whole::INPUT_LEN % step::INPUT_LEN, 0);
            let steps = whole::INPUT_LEN / step::INPUT_LEN;
            let sequence = stringify!($mode) == "sequence";
            if sequence {
                assert_eq!(whole::OUTPUT_LEN, steps * step::OUTPUT_LEN);
            } else {
                assert_eq!(whole::OUTPUT_LEN, step::OUTPUT_LEN);
            }
            assert_eq!(whole::INPUT_EXPONENT, step::INPUT_EXPONENT);
            let recording = common::load(concat!("recurrent/", stringify!($whole)));
            let mut streaming = step::Model::new();
            for (sample, x) in recording.inputs.iter().enumerate() {
                let x: &[f32; whole::INPUT_LEN] = x.as_slice().try_into().expect("input length");
                let mut expected = [0f32; whole::OUTPUT_LEN];
                whole::Model::new().predict(x, &mut expected);
                // Twice over, with a reset between: the state must not leak into the next sequence.
                for round in 0..2 {
                    streaming.reset_state();
                    let mut got = Vec::with_capacity(whole::OUTPUT_LEN);
                    for t in 0..steps {
                        let xs: &[f32; step::INPUT_LEN] = x[t * step::INPUT_LEN..]
                            [..step::INPUT_LEN]
                            .try_into()
                            .expect("step length");
                        let mut y = [0f32; step::OUTPUT_LEN];
                        streaming.predict(xs, &mut y);
                        if sequence || t + 1 == steps {
                            got.extend(y);
                        }
                    }
                    assert_eq!(got, expected, "sample {sample}, round {round}");
                }
            }
            // Without a reset the state carries over, so a second sequence differs.
            let x: &[f32; whole::INPUT_LEN] = recording.inputs[1].as_slice().try_into().unwrap();
            let mut first = [0f32; step::OUTPUT_LEN];
            streaming.reset_state();
            streaming.predict(x[..step::INPUT_LEN].try_into().unwrap(), &mut first);
            let mut carried = [0f32; step::OUTPUT_LEN];
            streaming.predict(x[..step::INPUT_LEN].try_into().unwrap(), &mut carried);
            assert_ne!(first, carried, "the second step saw the first one's state");
        }
    };
}

streaming_equals_whole!(
    lstm_streaming_equals_whole,
    lstm_forward,
    lstm_forward_step,
    sequence
);
streaming_equals_whole!(
    gru_streaming_equals_whole,
    gru_forward,
    gru_forward_step,
    sequence
);
streaming_equals_whole!(
    kws_one_frame_per_run_equals_whole,
    kws_gru_pt,
    kws_gru_pt_step,
    last
);
streaming_equals_whole!(
    kws_seven_frames_per_run_equals_whole,
    kws_gru_pt,
    kws_gru_pt_chunk,
    last
);
