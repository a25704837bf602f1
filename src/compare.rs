//! `compare`: finds the first layer where the generated module and a float reference part.
//! The module is compiled for the host with `rustc` and run with a [`LayerProbe`] that prints
//! every layer's output; tract runs the reference ONNX model (the model itself, or a
//! decomposed one for custom layers) with every layer's output tensor exposed. Both are
//! compared in the module's integers, layer by layer, sample by sample.
//!
//! [`LayerProbe`]: the module's `LayerProbe` (`Model::run_with`)

use crate::builder::read_model;
use crate::error::{terminal_safe, Error, Result};
use crate::inspect::reference::{FloatReference, Kind};
use crate::npy;
use crate::options::Options;
use crate::pipeline;
use crate::quant::{quantize_real_to, QType};
use crate::text::comment_safe;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `compare` found, layer by layer.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub samples: usize,
    /// The reference, as text: its file and the engine.
    pub reference: String,
    pub layers: Vec<LayerComparison>,
    /// The first layer (in order) where some element differs by more than the tolerance.
    pub first_difference: Option<Difference>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerComparison {
    pub index: usize,
    /// The layer's ONNX node.
    pub node: String,
    /// The ONNX tensor the layer writes, which the reference exposes.
    pub tensor: String,
    /// `None`: the reference has no tensor of that name (e.g. a name the rewrite made).
    pub compared: Option<LayerAgreement>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct LayerAgreement {
    pub elements: usize,
    pub equal: usize,
    /// The largest difference, in steps of the layer's output exponent.
    pub max_difference: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub layer: usize,
    pub node: String,
    pub sample: usize,
    pub element: usize,
    pub module: i64,
    /// The reference's value in the layer's output steps (not always an integer).
    pub reference: f64,
}

impl Comparison {
    /// The report for people: one line per layer, then the verdict.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{} samples against {}\n",
            self.samples,
            terminal_safe(&self.reference)
        );
        for layer in &self.layers {
            let what = match layer.compared {
                None => "not in the reference".to_string(),
                Some(a) => format!(
                    "{}/{} elements equal, largest difference {} steps",
                    a.equal, a.elements, a.max_difference
                ),
            };
            text.push_str(&format!(
                "layer {} ({}): {what}\n",
                layer.index,
                terminal_safe(&layer.node)
            ));
        }
        match &self.first_difference {
            None => text.push_str("no layer differs beyond the tolerance\n"),
            Some(d) => text.push_str(&format!(
                "first difference: layer {} ({}), sample {}, element {}: module {}, reference {}\n",
                d.layer,
                terminal_safe(&d.node),
                d.sample,
                d.element,
                d.module,
                d.reference
            )),
        }
        text
    }
}

/// Compares the module generated from `model` with `reference` (default: the model itself)
/// on the float32 inputs of `inputs`. Elements within `tolerance` output steps agree.
pub fn compare(
    model: &Path,
    reference: Option<&Path>,
    inputs: &Path,
    options: &Options,
    tolerance: f64,
) -> Result<Comparison> {
    let (bytes, file_name) = read_model(model)?;
    let compiled = pipeline::compile(&bytes, &file_name, options)?;
    let qgraph = &compiled.qgraph;
    let ([input], [_]) = (&qgraph.inputs[..], &qgraph.outputs[..]) else {
        return Err(Error::Model(format!(
            "{file_name}: compare needs a model with one input and one output"
        )));
    };
    let x = &qgraph.tensors[input.tensor];
    if x.dtype != QType::I8 {
        return Err(Error::Model(format!(
            "{file_name}: compare needs an int8 input; '{}' is {}",
            comment_safe(&input.name),
            x.dtype.name()
        )));
    }
    let array = npy::read(inputs, "--inputs")?;
    if array.values.is_empty() || array.values.len() % x.len() != 0 {
        return Err(Error::Usage {
            option: "--inputs",
            message: format!(
                "{}: an array of shape {:?} does not hold whole inputs of shape {:?}",
                inputs.display(),
                array.shape,
                x.shape
            ),
        });
    }
    let samples: Vec<&[f32]> = array.values.chunks(x.len()).collect();

    let generated = pipeline::generate(&bytes, &file_name, options, None, "onnx2esp compare")?;
    let traced = run_module(&generated.code, &samples, |v| {
        quantize_real_to(f64::from(v), x.exponent, x.dtype, options.rounding) as i8
    })?;

    let (reference_bytes, reference_name) = match reference {
        Some(path) => read_model(path)?,
        None => (bytes.clone(), file_name.clone()),
    };
    let names: Vec<String> = qgraph
        .layers
        .iter()
        .map(|l| qgraph.tensors[l.output].name.clone())
        .collect();
    let known = tensor_names(&reference_bytes, &reference_name)?;
    let exposed: Vec<String> = names
        .iter()
        .filter(|n| known.contains(*n))
        .cloned()
        .collect();
    let engine = FloatReference::with_outputs(&reference_bytes, &x.shape, &exposed, "reference")?;

    let mut layers: Vec<LayerComparison> = qgraph
        .layers
        .iter()
        .enumerate()
        .map(|(index, layer)| LayerComparison {
            index,
            node: layer.node.name.clone(),
            tensor: names[index].clone(),
            compared: known.contains(&names[index]).then_some(LayerAgreement {
                elements: 0,
                equal: 0,
                max_difference: 0.0,
            }),
        })
        .collect();
    let mut first_difference: Option<Difference> = None;
    for (sample, input) in samples.iter().enumerate() {
        let outputs = engine.run_all(input, &x.shape)?;
        let mut exposed_outputs = outputs.into_iter();
        for (index, layer) in layers.iter_mut().enumerate() {
            let Some(agreement) = layer.compared.as_mut() else {
                continue;
            };
            let Some((values, kind)) = exposed_outputs.next() else {
                return Err(Error::Internal(
                    "tract returned fewer outputs than asked".into(),
                ));
            };
            let tensor = &qgraph.tensors[qgraph.layers[index].output];
            let module = &traced[sample][index];
            if values.len() != module.len() {
                return Err(Error::Model(format!(
                    "layer {index} ('{}'): the reference's tensor '{}' has {} elements, the module's {}",
                    comment_safe(&layer.node),
                    comment_safe(&layer.tensor),
                    values.len(),
                    module.len()
                )));
            }
            let step = 2f64.powi(tensor.exponent);
            for (element, (&q, &r)) in module.iter().zip(&values).enumerate() {
                // An integer tensor of the reference is a QuantizeLinear output, in steps
                // already (uint8 at zero point 128); a float one is real values.
                let r = match kind {
                    Kind::Unsigned8 => r - 128.0,
                    Kind::Integer => r,
                    Kind::Float => r / step,
                };
                let difference = (q as f64 - r).abs();
                agreement.elements += 1;
                if difference == 0.0 {
                    agreement.equal += 1;
                }
                // A NaN from the reference is the largest difference, never agreement.
                if difference.is_nan() || difference > agreement.max_difference {
                    agreement.max_difference = difference;
                }
                let first = first_difference.as_ref().is_none_or(|d| index < d.layer);
                if (difference.is_nan() || difference > tolerance) && first {
                    first_difference = Some(Difference {
                        layer: index,
                        node: layer.node.clone(),
                        sample,
                        element,
                        module: q,
                        reference: r,
                    });
                }
            }
        }
    }
    Ok(Comparison {
        samples: samples.len(),
        reference: format!("{reference_name} run by tract in f32"),
        layers,
        first_difference,
    })
}

/// The tensor names a model's nodes write (and its inputs and initializers).
fn tensor_names(bytes: &[u8], file_name: &str) -> Result<std::collections::BTreeSet<String>> {
    let graph = crate::onnx::Graph::decode(bytes, file_name, &Default::default())?;
    let mut names: std::collections::BTreeSet<String> =
        graph.nodes.iter().flat_map(|n| n.outputs.clone()).collect();
    names.extend(graph.inputs.iter().map(|i| i.name.clone()));
    Ok(names)
}

/// Compiles `code` for the host with a probe that prints every layer's output, runs it on
/// each sample (quantized by `quantize`) and returns, per sample, per layer, the values.
fn run_module(
    code: &str,
    samples: &[&[f32]],
    quantize: impl Fn(f32) -> i8,
) -> Result<Vec<Vec<Vec<i64>>>> {
    let dir = scratch_dir()?;
    let write = |name: &str, content: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(|source| Error::Write { path, source })
    };
    write("model.rs", code.as_bytes())?;
    write("main.rs", PROBE_MAIN.as_bytes())?;
    let quantized: Vec<u8> = samples
        .iter()
        .flat_map(|s| s.iter().map(|&v| quantize(v) as u8))
        .collect();
    write("inputs.bin", &quantized)?;
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let built = Command::new(&rustc)
        .current_dir(&dir)
        .args([
            "--edition",
            "2021",
            "-C",
            "opt-level=1",
            "-o",
            "probe",
            "main.rs",
        ])
        .output()
        .map_err(|e| {
            Error::Model(format!(
                "cannot run rustc to build the module for the host: {e}"
            ))
        })?;
    if !built.status.success() {
        return Err(Error::Model(format!(
            "rustc could not build the module for the host (in {}):\n{}",
            dir.display(),
            String::from_utf8_lossy(&built.stderr)
        )));
    }
    let ran = Command::new(dir.join("probe"))
        .arg(dir.join("inputs.bin"))
        .output()
        .map_err(|e| Error::Model(format!("cannot run the host build of the module: {e}")))?;
    if !ran.status.success() {
        return Err(Error::Model(format!(
            "the host build of the module failed: {}",
            String::from_utf8_lossy(&ran.stderr)
        )));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut traced: Vec<Vec<Vec<i64>>> = Vec::new();
    for line in String::from_utf8_lossy(&ran.stdout).lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("sample") => traced.push(Vec::new()),
            Some(_) => {
                let values = words
                    .map(|w| w.parse::<i64>())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| Error::Internal(format!("probe output: {e}")))?;
                traced
                    .last_mut()
                    .ok_or_else(|| Error::Internal("probe output before a sample".into()))?
                    .push(values);
            }
            None => {}
        }
    }
    if traced.len() != samples.len() {
        return Err(Error::Internal(format!(
            "the probe reported {} samples of {}",
            traced.len(),
            samples.len()
        )));
    }
    Ok(traced)
}

/// A fresh directory for the host build.
fn scratch_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("onnx2esp-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// The host program: runs `Model::run_with` on each input of the file it is given (int8,
/// back to back) and prints `sample N`, then one line per layer: its index and its values.
const PROBE_MAIN: &str = r#"
#[allow(dead_code)]
mod model;

struct Print;

impl model::LayerProbe for Print {
    fn after(&mut self, index: usize, _name: &str, output: model::LayerOutput<'_>) {
        let values: Vec<String> = match output {
            model::LayerOutput::I8(v) => v.iter().map(|x| x.to_string()).collect(),
            model::LayerOutput::I16(v) => v.iter().map(|x| x.to_string()).collect(),
        };
        println!("{index} {}", values.join(" "));
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("the inputs file");
    let bytes = std::fs::read(path).expect("the inputs file");
    let mut model = model::Model::new();
    for (sample, chunk) in bytes.chunks(model::INPUT_LEN).enumerate() {
        let input: [i8; model::INPUT_LEN] = core::array::from_fn(|i| chunk[i] as i8);
        let mut output = [0; model::OUTPUT_LEN];
        println!("sample {sample}");
        model.run_with(&mut Print, &input, &mut output);
    }
}
"#;
