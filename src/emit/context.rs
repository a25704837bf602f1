//! The template context every layer gets, built-in or custom (documented in
//! `templates/README.md`): the node, its attributes, its inputs and output, and the unroll
//! budget. Kernels add their own variables on top.
//!
//! Text from the model (node, domain, op type, tensor and attribute strings) is escaped with
//! [`model_text`], so that a template may put it in a comment or a string literal without a
//! model being able to end either; `raw` holds the same strings unescaped.

use crate::ir::{Layer, QGraph, TensorId};
use crate::kernel::KernelEmit;
use crate::onnx::Attribute;
use crate::options::KernelProfile;
use crate::text::model_text;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct NodeInfo {
    name: String,
    domain: String,
    op_type: String,
}

/// The model's strings as they are, for templates that opt out of escaping.
#[derive(Serialize)]
struct RawStrings<'a> {
    node: RawNode<'a>,
    attributes: BTreeMap<&'a str, tera::Value>,
}

#[derive(Serialize)]
struct RawNode<'a> {
    name: &'a str,
    domain: &'a str,
    op_type: &'a str,
    inputs: &'a [String],
    outputs: &'a [String],
}

#[derive(Serialize)]
struct TensorInfo<'a> {
    /// The ONNX tensor name, escaped.
    name: String,
    /// The Rust expression of the buffer inside the layer function.
    var: String,
    /// ONNX order.
    shape: &'a [usize],
    /// The layout of the buffer: the ONNX one.
    layout: &'static str,
    internal_shape: &'a [usize],
    dtype: &'static str,
    exponent: i32,
    len: usize,
}

fn tensor_info<'a>(graph: &'a QGraph, id: TensorId, var: &str) -> TensorInfo<'a> {
    let t = &graph.tensors[id];
    TensorInfo {
        name: model_text(&t.name),
        var: var.to_string(),
        shape: &t.shape,
        layout: "ONNX",
        internal_shape: &t.shape,
        dtype: t.dtype.rust(),
        exponent: t.exponent,
        len: t.len(),
    }
}

/// An attribute as a template value: numbers, strings, lists, or `{dims, values}`; strings
/// go through `text` ([`model_text`], or unchanged for `raw`).
fn attribute_value(attribute: &Attribute, text: fn(&str) -> String) -> tera::Value {
    let value = match attribute {
        Attribute::Int(v) => tera::to_value(v),
        Attribute::Float(v) => tera::to_value(v),
        Attribute::String(v) => tera::to_value(text(v)),
        Attribute::Ints(v) => tera::to_value(v),
        Attribute::Floats(v) => tera::to_value(v),
        Attribute::Strings(v) => tera::to_value(v.iter().map(|s| text(s)).collect::<Vec<_>>()),
        Attribute::Tensor(t) => tera::to_value(BTreeMap::from([
            ("dims", tera::to_value(&t.dims).unwrap_or_default()),
            ("values", tera::to_value(&t.values).unwrap_or_default()),
        ])),
    };
    value.unwrap_or_default()
}

pub fn set_layer_context(
    graph: &QGraph,
    layer: &Layer,
    profile: KernelProfile,
    out: &mut KernelEmit,
) {
    let node = &layer.node;
    out.set(
        "node",
        NodeInfo {
            name: model_text(&node.name),
            domain: model_text(&node.domain),
            op_type: model_text(&node.op_type),
        },
    );
    // Attribute names are keys: ONNX names are identifiers, and a key can only be looked up.
    let attributes = |text: fn(&str) -> String| -> BTreeMap<&str, tera::Value> {
        node.attributes
            .iter()
            .map(|(name, a)| (name.as_str(), attribute_value(a, text)))
            .collect()
    };
    out.set("attributes", attributes(model_text));
    out.set(
        "raw",
        RawStrings {
            node: RawNode {
                name: &node.name,
                domain: &node.domain,
                op_type: &node.op_type,
                inputs: &node.inputs,
                outputs: &node.outputs,
            },
            attributes: attributes(str::to_string),
        },
    );
    let inputs: Vec<TensorInfo> = layer
        .inputs
        .iter()
        .zip(out.input_vars())
        .map(|(&id, var)| tensor_info(graph, id, var))
        .collect();
    out.set("inputs", inputs);
    out.set("output", tensor_info(graph, layer.output, out.output_var()));
    // The output's element type, for kernels that handle int16 (`Kernel::supports_int16`);
    // inputs carry theirs in `inputs[i].dtype`.
    out.set("out_ty", out.output_type().rust());
    out.set_profile(profile);
}
