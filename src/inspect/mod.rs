//! `onnx2esp inspect`: what the scale rewrite does to a model, tensor by tensor and layer by
//! layer, and what it costs end to end (SQNR and argmax agreement between the original QDQ
//! model and the rewritten one, both run in float by tract).

use crate::npy;
pub mod reference;
mod render;

use crate::error::{Error, Result};
use crate::options::Options;
use crate::rewrite::scales::{ScalePolicy, ScaleReport, SnapRule};
use reference::FloatReference;
use serde::Serialize;
use std::path::PathBuf;

/// Where the inputs of the end-to-end comparison come from.
#[derive(Debug, Clone)]
pub enum Inputs {
    /// `count` inputs drawn uniformly over the range the input quantizer represents.
    Random { count: usize, seed: u64 },
    /// A float32 `.npy` array holding whole inputs, e.g. shape `[N, 1, 8, 8]`.
    File(PathBuf),
}

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub model: String,
    /// `exact`, `snap (nearest)` or `snap (ceil)`.
    pub scales: String,
    /// Every quantized tensor: its original scale and zero point, exponent, error, saturation.
    pub tensors: ScaleReport,
    pub layers: Vec<LayerRow>,
    pub arena_bytes: usize,
    pub peak_live_bytes: usize,
    /// `None` when tract cannot run the model (it has no int16 QuantizeLinear, for one);
    /// `not_measured` says why.
    pub effect: Option<Effect>,
    pub not_measured: Option<String>,
}

/// One generated layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    pub node: String,
    pub ops: String,
    pub input_exponents: Vec<i32>,
    pub output_exponent: i32,
    /// The requantization right shift (negative: left shift), where the layer has one; one
    /// per output channel for per-channel weights whose shifts differ.
    pub shifts: Vec<i32>,
    /// The worst-case `|acc|` of an accumulating layer, proven from the real weights, and
    /// whether it accumulates in i64.
    pub accumulator_bound: Option<u64>,
    pub wide_accumulator: bool,
    pub macs: u64,
    /// Whether the layer overwrites its input (the memory plan found it dies there).
    pub in_place: bool,
}

/// The end-to-end effect of the rewrite on the first graph output.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    /// The float model measured: the model itself, or the decomposed reference given for a
    /// model with custom layers.
    pub model: String,
    pub inputs: String,
    pub samples: usize,
    pub output: String,
    /// Signal-to-quantisation-noise ratio of the rewritten model's output against the
    /// original's, in dB; `None` when the two are identical (infinite SQNR), minus infinity
    /// (`"-inf"` in JSON) when either output has a NaN.
    #[serde(serialize_with = "finite_or_text")]
    pub sqnr_db: Option<f64>,
    /// Output elements where either model gave NaN: each one is a failure, never noise-free.
    pub nan_elements: usize,
    /// Samples whose output argmax is the same in both models (never one with a NaN).
    pub argmax_agreement: usize,
}

/// JSON has no infinities (serde_json would write `null`, which reads as "identical"): a
/// non-finite value is written as text instead.
fn finite_or_text<S: serde::Serializer>(
    value: &Option<f64>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match value {
        Some(v) if !v.is_finite() => s.serialize_str(&v.to_string()),
        _ => value.serialize(s),
    }
}

impl Effect {
    pub fn agreement_percent(&self) -> f64 {
        100.0 * self.argmax_agreement as f64 / self.samples.max(1) as f64
    }
}

/// Inspects a model held in memory.
/// `reference`: a model (bytes, file name) to measure end to end instead of this one, e.g. a
/// decomposition of its custom layers into standard ops, which the float engine can run.
pub fn inspect(
    bytes: &[u8],
    file_name: &str,
    options: &Options,
    inputs: &Inputs,
    reference: Option<(&[u8], &str)>,
) -> Result<Inspection> {
    let crate::pipeline::Compiled {
        graph: rewritten,
        scales: mut tensors,
        qgraph,
        plan,
        ..
    } = crate::pipeline::compile(bytes, file_name, options)?;
    // The scale policy changes no graph input or output.
    let graph = &rewritten;
    // Activation shapes the model does not declare are known once the graph is lowered.
    for report in tensors.tensors.iter_mut().filter(|t| t.shape.is_none()) {
        report.shape = qgraph
            .tensors
            .iter()
            .find(|t| t.name == report.tensor)
            .map(|t| t.shape.clone());
    }

    let layers = qgraph
        .layers
        .iter()
        .zip(&plan.in_place)
        .map(|(layer, &in_place)| LayerRow {
            node: layer.node.name.clone(),
            ops: layer.ops.clone(),
            input_exponents: layer
                .inputs
                .iter()
                .map(|&t| qgraph.tensors[t].exponent)
                .collect(),
            output_exponent: qgraph.tensors[layer.output].exponent,
            shifts: match (layer.kernel.shift(), layer.kernel.channel_shifts()) {
                (Some(shift), _) => vec![shift],
                (None, Some(shifts)) => shifts.values().to_vec(),
                (None, None) => Vec::new(),
            },
            accumulator_bound: layer.kernel.accumulator().map(|a| a.bound),
            wide_accumulator: layer.kernel.accumulator().is_some_and(|a| a.wide),
            macs: layer.kernel.macs(),
            in_place,
        })
        .collect();

    let [input] = graph.inputs.as_slice() else {
        return Err(Error::Model(format!(
            "{file_name}: inspect compares models with one input; this one has {}",
            graph.inputs.len()
        )));
    };
    let shape = input.shape.clone().ok_or_else(|| {
        Error::tensor(
            &input.name,
            "the input shape is dynamic; give it with --input-shape",
        )
    })?;
    let input = &qgraph.tensors[qgraph.inputs[0].tensor];
    let (description, samples) = input_samples(inputs, &shape, input.exponent, input.dtype)?;
    // Every tensor tract will hold passed the lowering's size checks (the RAM budget), so
    // tract runs within bounds; whatever else goes wrong inside it (a panic) is caught and
    // reported as "not measured".
    let compare = || -> Result<Comparison> {
        if shape.len() > MAX_REFERENCE_RANK {
            return Err(Error::Model(format!(
                "the input has {} axes; the float reference runs inputs of at most {MAX_REFERENCE_RANK}",
                shape.len()
            )));
        }
        // The decomposed reference goes through the same rewrite as the model.
        let (original, rewritten) = match reference {
            None => (bytes.to_vec(), rewritten.to_onnx_bytes()),
            Some((reference, name)) => (
                reference.to_vec(),
                crate::pipeline::rewrite_model(reference, name, options)?.0,
            ),
        };
        let original = FloatReference::new(&original, &shape, "original model")?;
        let rewritten = FloatReference::new(&rewritten, &shape, "rewritten model")?;
        let mut comparison = Comparison::default();
        for sample in samples.chunks_exact(shape.iter().product()) {
            comparison.add(
                &original.run(sample, &shape)?,
                &rewritten.run(sample, &shape)?,
            );
        }
        Ok(comparison)
    };
    let (effect, not_measured) = match guarded(compare) {
        Ok(comparison) => {
            let effect = Effect {
                model: reference.map_or(file_name, |(_, name)| name).to_string(),
                inputs: description,
                samples: comparison.samples,
                output: graph.outputs[0].name.clone(),
                sqnr_db: comparison.sqnr_db(),
                nan_elements: comparison.nan_elements,
                argmax_agreement: comparison.argmax_agreement,
            };
            (Some(effect), None)
        }
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(Inspection {
        model: file_name.to_string(),
        scales: match options.scales {
            ScalePolicy::Exact => "exact".into(),
            ScalePolicy::Snap(SnapRule::Nearest) => "snap (nearest)".into(),
            ScalePolicy::Snap(SnapRule::Ceil) => "snap (ceil)".into(),
        },
        tensors,
        layers,
        arena_bytes: plan.arena_bytes,
        peak_live_bytes: plan.peak_live_bytes,
        effect,
        not_measured,
    })
}

/// The float reference (tract) runs inputs of at most this rank; past it tract's shape
/// analysis takes unbounded time.
const MAX_REFERENCE_RANK: usize = 8;

/// The most input values `inspect` draws or reads (64 MiB of f32).
const MAX_SAMPLE_VALUES: usize = 1 << 24;

/// Runs the float reference, turning a panic inside tract into an error.
fn guarded<T>(run: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(Error::Model(format!(
            "the float reference failed: {message}"
        )))
    })
}

/// The inputs as one flat array of whole samples, with a description for the report.
fn input_samples(
    inputs: &Inputs,
    shape: &[usize],
    exponent: i32,
    dtype: crate::ir::QType,
) -> Result<(String, Vec<f32>)> {
    let sample_len: usize = shape.iter().product();
    match inputs {
        Inputs::Random { count, .. }
            if count.checked_mul(sample_len).is_none_or(|n| n > MAX_SAMPLE_VALUES) =>
        {
            Err(Error::Model(format!(
                "{count} inputs of {sample_len} values are more than inspect draws ({MAX_SAMPLE_VALUES} values)"
            )))
        }
        Inputs::Random { count, seed } => {
            // Uniform over what the input quantizer represents, [min, max] * 2^e of its
            // integer type, so that every input code is exercised.
            let (min, max) = dtype.range();
            let step = 2f64.powi(exponent);
            let mut rng = SplitMix64(*seed);
            let values = (0..count * sample_len)
                .map(|_| ((min as f64 + rng.unit() * (max - min) as f64) * step) as f32)
                .collect();
            Ok((
                format!("{count} random inputs (seed {seed}) over [{min}, {max}] * 2^{exponent}"),
                values,
            ))
        }
        Inputs::File(path) => {
            let array = npy::read(path, "--inputs")?;
            if array.values.is_empty() || array.values.len() % sample_len != 0 {
                return Err(Error::Usage {
                    option: "--inputs",
                    message: format!(
                        "{}: an array of shape {:?} does not hold whole inputs of shape {shape:?}",
                        path.display(),
                        array.shape
                    ),
                });
            }
            let count = array.values.len() / sample_len;
            Ok((
                format!("{count} inputs from {}", path.display()),
                array.values,
            ))
        }
    }
}

/// Accumulates the reference/rewritten comparison over samples.
#[derive(Debug, Default)]
struct Comparison {
    samples: usize,
    signal: f64,
    noise: f64,
    nan_elements: usize,
    argmax_agreement: usize,
}

impl Comparison {
    fn add(&mut self, reference: &[f32], rewritten: &[f32]) {
        self.samples += 1;
        let nan_before = self.nan_elements;
        for (&r, &w) in reference.iter().zip(rewritten) {
            if r.is_nan() || w.is_nan() {
                // A NaN would make the noise NaN, which no comparison reads as a difference.
                self.nan_elements += 1;
                continue;
            }
            self.signal += (r as f64).powi(2);
            self.noise += (r as f64 - w as f64).powi(2);
        }
        // argmax skips over a NaN, so a sample with one never agrees.
        if self.nan_elements == nan_before && argmax(reference) == argmax(rewritten) {
            self.argmax_agreement += 1;
        }
    }

    /// `None` only when the outputs are identical; minus infinity when any is NaN.
    fn sqnr_db(&self) -> Option<f64> {
        if self.nan_elements > 0 {
            return Some(f64::NEG_INFINITY);
        }
        (self.noise > 0.0).then(|| 10.0 * (self.signal / self.noise).log10())
    }
}

/// The index of the largest value; the first one on ties, as numpy's argmax.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// splitmix64: a small, seedable generator, so that random inputs (here and in the bounded
/// fuzz test) are reproducible without a dependency.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n) (n = 0 counts as 1).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqnr_and_agreement() {
        let mut c = Comparison::default();
        c.add(&[1.0, 3.0], &[1.0, 3.0]);
        assert_eq!(c.sqnr_db(), None);
        c.add(&[3.0, 1.0], &[2.0, 2.5]);
        // signal 1+9+9+1 = 20, noise 1 + 2.25 = 3.25
        assert!((c.sqnr_db().unwrap() - 10.0 * (20.0f64 / 3.25).log10()).abs() < 1e-12);
        assert_eq!((c.samples, c.argmax_agreement), (2, 1));
    }

    /// A NaN in either output is a failure: never "identical", never an agreeing argmax.
    #[test]
    fn nan_is_never_identical() {
        for (reference, rewritten) in [([1.0, 3.0], [1.0, f32::NAN]), ([f32::NAN, 3.0], [1.0, 3.0])]
        {
            let mut c = Comparison::default();
            c.add(&reference, &rewritten);
            assert_eq!(c.sqnr_db(), Some(f64::NEG_INFINITY));
            assert_eq!((c.nan_elements, c.argmax_agreement), (1, 0));
        }
        let effect = Effect {
            model: "m.onnx".into(),
            inputs: String::new(),
            samples: 1,
            output: "y".into(),
            sqnr_db: Some(f64::NEG_INFINITY),
            nan_elements: 1,
            argmax_agreement: 0,
        };
        let json = serde_json::to_value(&effect).unwrap();
        assert_eq!(json["sqnr_db"], "-inf");
    }

    #[test]
    fn argmax_takes_the_first_of_equals() {
        assert_eq!(argmax(&[0.0, 2.0, 2.0, 1.0]), 1);
    }
}
