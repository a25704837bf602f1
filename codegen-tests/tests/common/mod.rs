// Each test file uses a different part of these helpers.
#![allow(dead_code)]

//! Reading the ONNX Runtime recordings made by `examples/pytorch/record_outputs.py` (and by
//! `examples/ops/make_op_fixtures.py`, which has no labels).

use serde::Deserialize;

#[derive(Deserialize)]
pub struct Recording {
    pub reference: String,
    /// Class labels; `None` for op fixtures, which are not classifiers.
    pub labels: Option<Vec<usize>>,
    pub reference_accuracy: Option<f64>,
    pub framework_accuracy: Option<f64>,
    pub inputs: Vec<Vec<f32>>,
    pub outputs: Vec<Vec<f32>>,
}

/// Loads `models/{name}.expected.json`; `name` may have a directory, e.g. `ops/neg`.
pub fn load(name: &str) -> Recording {
    load_path(&format!(
        "{}/models/{name}.expected.json",
        env!("CARGO_MANIFEST_DIR")
    ))
}

/// A recording at a path relative to the repository root.
pub fn load_from_repo(relative: &str) -> Recording {
    load_path(&format!("{}/../{relative}", env!("CARGO_MANIFEST_DIR")))
}

fn load_path(path: &str) -> Recording {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// How a generated module's `predict` agrees with its recording `recording` (e.g. `ops/neg`):
/// `inputs` are its input ports' lengths (a recording stores several inputs one after
/// another, in graph order), `output` its one output's length and exponent. Prints the figures
/// as `name: ...`.
pub fn fixture_agreement(
    name: &str,
    recording: &str,
    inputs: &[usize],
    (output_len, output_exponent): (usize, i32),
    predict: fn(&[&[f32]], &mut [&mut [f64]]),
) -> Agreement {
    let recording = load(recording);
    let mut y64 = vec![0f64; output_len];
    let agreement = compare(
        &recording,
        output_exponent,
        |x, y| {
            let mut rest = x;
            let parts: Vec<&[f32]> = inputs
                .iter()
                .map(|&len| {
                    let (input, tail) = rest.split_at(len);
                    rest = tail;
                    input
                })
                .collect();
            assert!(rest.is_empty(), "{name}: recorded input too long");
            predict(&parts, &mut [&mut y64]);
            for (y, v) in y.iter_mut().zip(&y64) {
                *y = *v as f32;
            }
        },
        output_len,
    );
    agreement.print_elements(name);
    agreement
}

pub mod doc_figures;
pub mod mcu;

pub use onnx2esp::inspect::argmax;

/// How the generated code compares with the recording.
#[derive(Debug, Default)]
pub struct Agreement {
    pub samples: usize,
    pub elements: usize,
    pub exact_elements: usize,
    /// Largest difference in units of the output's last bit; infinite when any element
    /// is NaN (in the generated output or the recording), so that every tolerance fails.
    pub max_lsb: f64,
    /// Elements where the generated output or the recording is NaN.
    pub nan_elements: usize,
    /// Elements that differ by exactly one unit of the last bit.
    pub one_lsb_elements: usize,
    pub argmax_agree: usize,
    pub correct: usize,
    /// Sums of squares of the recorded outputs and of the differences, for the SQNR.
    pub signal_energy: f64,
    pub noise_energy: f64,
}

/// [`compare`] for a model's `predict`, which takes arrays of its input and output lengths.
pub fn compare_predict<const I: usize, const O: usize>(
    recording: &Recording,
    output_exponent: i32,
    mut predict: impl FnMut(&[f32; I], &mut [f32; O]),
) -> Agreement {
    compare(
        recording,
        output_exponent,
        |x, y| {
            predict(
                x.try_into().expect("input length"),
                y.try_into().expect("output length"),
            )
        },
        O,
    )
}

/// Runs `predict` on every recorded sample and tallies the agreement.
pub fn compare(
    recording: &Recording,
    output_exponent: i32,
    mut predict: impl FnMut(&[f32], &mut [f32]),
    output_len: usize,
) -> Agreement {
    assert_eq!(recording.inputs.len(), recording.outputs.len());
    assert!(!recording.inputs.is_empty(), "the recording has no samples");
    let lsb = 2f64.powi(output_exponent);
    let mut a = Agreement::default();
    let mut got = vec![0f32; output_len];
    for (sample, (input, expected)) in recording.inputs.iter().zip(&recording.outputs).enumerate() {
        assert_eq!(expected.len(), output_len);
        predict(input, &mut got);
        a.samples += 1;
        let nan_before = a.nan_elements;
        for (&g, &e) in got.iter().zip(expected) {
            a.elements += 1;
            if g == e {
                a.exact_elements += 1;
            }
            let lsbs = ((g as f64) - (e as f64)).abs() / lsb;
            // `f64::max` would drop a NaN: count it and make the distance infinite instead.
            if lsbs.is_nan() {
                a.nan_elements += 1;
                a.max_lsb = f64::INFINITY;
            } else {
                a.max_lsb = a.max_lsb.max(lsbs);
            }
            if lsbs == 1.0 {
                a.one_lsb_elements += 1;
            }
            a.signal_energy += (e as f64).powi(2);
            a.noise_energy += ((g as f64) - (e as f64)).powi(2);
        }
        // A sample with a NaN never agrees (argmax alone would skip over the NaN).
        if a.nan_elements == nan_before && argmax(&got) == argmax(expected) {
            a.argmax_agree += 1;
        }
        let label = recording.labels.as_ref().map(|labels| labels[sample]);
        if Some(argmax(&got)) == label {
            a.correct += 1;
        }
    }
    a
}

impl Agreement {
    /// Signal to quantization-noise ratio of the generated outputs against the recording, in
    /// dB (infinite when they are equal, minus infinity when any element is NaN).
    pub fn sqnr_db(&self) -> f64 {
        if self.nan_elements > 0 {
            return f64::NEG_INFINITY;
        }
        10.0 * (self.signal_energy / self.noise_energy).log10()
    }

    /// The share of samples whose predicted class matches the recording's.
    pub fn argmax_share(&self) -> f64 {
        self.argmax_agree as f64 / self.samples as f64
    }

    /// One line of figures for an op fixture (no classes, no accuracy).
    pub fn print_elements(&self, name: &str) {
        println!(
            "{name}: {}/{} elements exact ({:.2}%), {} off by 1 LSB ({:.3}%), max difference {} LSB",
            self.exact_elements,
            self.elements,
            100.0 * self.exact_elements as f64 / self.elements as f64,
            self.one_lsb_elements,
            100.0 * self.one_lsb_elements as f64 / self.elements as f64,
            self.max_lsb
        );
    }

    pub fn print(&self, name: &str, recording: &Recording) {
        println!(
            "{name}: {}/{} elements exact ({:.2}%), max difference {} LSB, argmax agrees on {}/{} samples",
            self.exact_elements,
            self.elements,
            100.0 * self.exact_elements as f64 / self.elements as f64,
            self.max_lsb,
            self.argmax_agree,
            self.samples
        );
        if recording.reference_accuracy.is_none() && recording.framework_accuracy.is_none() {
            return; // not a classifier: accuracy means nothing
        }
        println!(
            "{name}: accuracy generated code {:.2}%, reference {}, framework {} (reference: {})",
            100.0 * self.correct as f64 / self.samples as f64,
            recording
                .reference_accuracy
                .map_or("n/a".to_string(), |f| format!("{:.2}%", 100.0 * f)),
            recording
                .framework_accuracy
                .map_or("n/a".to_string(), |f| format!("{:.2}%", 100.0 * f)),
            recording.reference
        );
    }
}
