//! The whole pipeline, in one place: bytes → [`onnx`](crate::onnx) graph →
//! [`rewrite`](crate::rewrite)s → [`lower`](crate::lower)ed integer IR →
//! [`plan`](crate::plan) → [`emit`](crate::emit)ted module. `generate`, `inspect`,
//! `rewrite` and the tests all go through [`compile`].

use crate::emit::{self, Templates};
use crate::error::{Error, Result};
use crate::ir::QGraph;
use crate::npy;
use crate::onnx::Graph;
use crate::options::{EmbedTests, Options};
use crate::plan::Plan;
use crate::quant::{quantize_real_to, QType, Rounding};
use crate::rewrite::scales::{rewrite_scales, ScaleReport};
use crate::text::comment_safe;
use std::collections::BTreeMap;

/// Decodes a model and applies the rewrites that normalise it (constant folding, the
/// QOperator expansion, layout ops at the edges), before any scale policy: the graph as
/// onnx2esp reads it.
pub fn load(
    bytes: &[u8],
    file_name: &str,
    input_shapes: &BTreeMap<String, Vec<usize>>,
) -> Result<Graph> {
    crate::rewrite::normalize(Graph::decode(bytes, file_name, input_shapes)?)
}

/// A model carried through lowering and planning.
pub struct Compiled {
    /// The graph after every rewrite, the scale policy included.
    pub graph: Graph,
    /// What the scale policy did to every quantized tensor.
    pub scales: ScaleReport,
    pub qgraph: QGraph,
    pub plan: Plan,
    pub templates: Templates,
}

/// Loads, rewrites, lowers and plans a model.
pub fn compile(bytes: &[u8], file_name: &str, options: &Options) -> Result<Compiled> {
    let templates = Templates::new(options.templates.as_deref(), options.rounding)?;
    let graph = load(bytes, file_name, &options.input_shapes)?;
    let (graph, scales) = rewrite_scales(&graph, options.scales)?;
    let qgraph =
        crate::lower::lower_within(&graph, templates.user(), options.rounding, options.budget)?;
    let plan = Plan::new(&qgraph);
    Ok(Compiled {
        graph,
        scales,
        qgraph,
        plan,
        templates,
    })
}

/// A generated module and what the generator wants the user to know about it.
#[derive(Debug, Clone)]
pub struct Generated {
    pub code: String,
    /// The binary file of large weights the module reads with `include_bytes!`, to be
    /// written beside it under its `name`; `None` when every weight is inline.
    pub weights_file: Option<emit::WeightsFile>,
    pub warnings: Vec<String>,
    /// What the scale policy did to every quantized tensor.
    pub scales: ScaleReport,
}

/// Generates a module: [`compile`], then emit. `side_file` sends the large weight statics to
/// a weights file; `regenerate` is the header's command line.
pub fn generate(
    bytes: &[u8],
    file_name: &str,
    options: &Options,
    side_file: Option<emit::SideFile>,
    regenerate: &str,
) -> Result<Generated> {
    if let Some(section) = &options.arena_link_section {
        emit::check_link_section(section)?;
    }
    let Compiled {
        graph,
        scales,
        qgraph,
        plan,
        templates,
    } = compile(bytes, file_name, options)?;
    let self_test = match &options.embed_tests {
        Some(tests) => Some(self_test_samples(tests, &qgraph, options.rounding)?),
        None => None,
    };
    let emitted = emit::emit(
        &graph,
        &qgraph,
        &plan,
        &templates,
        emit::EmitSettings {
            arena_link_section: options.arena_link_section.as_deref(),
            profile: options.kernel_profile(),
            side_file,
            regenerate,
            max_code: options.max_code,
            self_test: self_test.as_ref(),
        },
    )?;
    let warnings = options
        .budget
        .check(emitted.arena_bytes, emitted.weight_bytes, file_name)?;
    Ok(Generated {
        code: emitted.code,
        weights_file: emitted.weights_file,
        warnings,
        scales,
    })
}

/// The template context of one layer, as pretty JSON: what its template receives
/// (`generate --dump-context NODE`). `node` is the ONNX name of the layer's node (the first
/// node when a Relu/Clip is fused into it) or the generated function's name.
pub fn template_context(
    bytes: &[u8],
    file_name: &str,
    options: &Options,
    node: &str,
) -> Result<String> {
    let compiled = compile(bytes, file_name, options)?;
    let qgraph = &compiled.qgraph;
    match emit::layer_context(qgraph, &compiled.plan, options.kernel_profile(), node)? {
        Some(context) => Ok(serde_json::to_string_pretty(&context).unwrap_or_default()),
        None => {
            let layers: Vec<String> = qgraph
                .layers
                .iter()
                .map(|l| format!("'{}'", comment_safe(&l.node.name)))
                .collect();
            Err(Error::Model(format!(
                "no layer comes from node '{}'; the layers' nodes are {}",
                comment_safe(node),
                layers.join(", ")
            )))
        }
    }
}

/// The model as onnx2esp reads it, written back to ONNX: layout ops at the float edges moved
/// inside the quantized core, QOperator nodes expanded, constants folded, and every scale
/// as [`Options::scales`] leaves it (powers of two under `--scales snap`). ONNX Runtime running
/// the result computes what the generated module computes. Returns the bytes and what the
/// scale policy did.
pub fn rewrite_model(
    bytes: &[u8],
    file_name: &str,
    options: &Options,
) -> Result<(Vec<u8>, ScaleReport)> {
    let graph = load(bytes, file_name, &options.input_shapes)?;
    let (graph, scales) = rewrite_scales(&graph, options.scales)?;
    Ok((graph.to_onnx_bytes(), scales))
}

/// The samples of `--embed-tests`: the inputs quantized as `predict` quantizes them, and the
/// reference's outputs at the output's exponent, where each must be a whole step.
fn self_test_samples(
    tests: &EmbedTests,
    qgraph: &QGraph,
    rounding: Rounding,
) -> Result<emit::SelfTestSamples> {
    let usage = |message: String| Error::Usage {
        option: "--embed-tests",
        message,
    };
    let ([input], [output]) = (&qgraph.inputs[..], &qgraph.outputs[..]) else {
        return Err(usage(format!(
            "the model has {} inputs and {} outputs; self-test samples need one of each",
            qgraph.inputs.len(),
            qgraph.outputs.len()
        )));
    };
    let (x, y) = (
        &qgraph.tensors[input.tensor],
        &qgraph.tensors[output.tensor],
    );
    for (port, tensor) in [(input, x), (output, y)] {
        if tensor.dtype != QType::I8 {
            return Err(usage(format!(
                "'{}' is {}; self-test samples are int8 only",
                comment_safe(&port.name),
                tensor.dtype.name()
            )));
        }
    }
    let read = |path: &std::path::Path, option, len: usize, what: &str| -> Result<Vec<Vec<f32>>> {
        let array = npy::read(path, option)?;
        let count = array.values.len() / len.max(1);
        if count < tests.count || array.values.len() % len.max(1) != 0 {
            return Err(Error::Usage {
                option,
                message: format!(
                    "{}: an array of shape {:?} does not hold {} whole {what} of {len} elements",
                    path.display(),
                    array.shape,
                    tests.count
                ),
            });
        }
        Ok(array
            .values
            .chunks(len)
            .take(tests.count)
            .map(<[f32]>::to_vec)
            .collect())
    };
    let inputs = read(&tests.inputs, "--test-inputs", x.len(), "inputs")?;
    let outputs = read(&tests.outputs, "--test-outputs", y.len(), "outputs")?;
    let inputs = inputs
        .iter()
        .map(|sample| {
            sample
                .iter()
                .map(|&v| quantize_real_to(f64::from(v), x.exponent, x.dtype, rounding))
                .collect()
        })
        .collect();
    let step = 2f64.powi(y.exponent);
    let (lo, hi) = y.dtype.range();
    let mut expected = Vec::with_capacity(outputs.len());
    for (sample, values) in outputs.iter().enumerate() {
        let mut row = Vec::with_capacity(values.len());
        for (element, &v) in values.iter().enumerate() {
            let q = f64::from(v) / step;
            if q.fract() != 0.0 || !(lo as f64..=hi as f64).contains(&q) {
                return Err(Error::Usage {
                    option: "--test-outputs",
                    message: format!(
                        "sample {sample}, element {element}: {v} is not a whole int8 step of 2^{} (the reference's outputs must be the model's dequantized outputs)",
                        y.exponent
                    ),
                });
            }
            row.push(q as i64);
        }
        expected.push(row);
    }
    Ok(emit::SelfTestSamples {
        inputs,
        outputs: expected,
    })
}
