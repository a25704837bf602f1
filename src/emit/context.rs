//! The template context every layer gets, built-in or custom (documented in
//! `templates/README.md`): the node, its attributes, its inputs and output, and the unroll
//! budget. Kernels add their own variables on top.

use super::KernelEmit;
use crate::ir::{Layer, QGraph, TensorId};
use crate::onnx::Attribute;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct NodeInfo<'a> {
    name: &'a str,
    domain: &'a str,
    op_type: &'a str,
}

#[derive(Serialize)]
struct TensorInfo<'a> {
    /// The ONNX tensor name.
    name: &'a str,
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
        name: &t.name,
        var: var.to_string(),
        shape: &t.shape,
        layout: "ONNX",
        internal_shape: &t.shape,
        dtype: t.dtype.rust(),
        exponent: t.exponent,
        len: t.len(),
    }
}

/// An attribute as a template value: numbers, strings, lists, or `{dims, values}`.
fn attribute_value(attribute: &Attribute) -> tera::Value {
    let value = match attribute {
        Attribute::Int(v) => tera::to_value(v),
        Attribute::Float(v) => tera::to_value(v),
        Attribute::String(v) => tera::to_value(v),
        Attribute::Ints(v) => tera::to_value(v),
        Attribute::Floats(v) => tera::to_value(v),
        Attribute::Strings(v) => tera::to_value(v),
        Attribute::Tensor(t) => tera::to_value(BTreeMap::from([
            ("dims", tera::to_value(&t.dims).unwrap_or_default()),
            ("values", tera::to_value(&t.values).unwrap_or_default()),
        ])),
    };
    value.unwrap_or_default()
}

pub fn set_layer_context(graph: &QGraph, layer: &Layer, unroll: usize, out: &mut KernelEmit) {
    let node = &layer.node;
    out.set(
        "node",
        NodeInfo {
            name: &node.name,
            domain: &node.domain,
            op_type: &node.op_type,
        },
    );
    let attributes: BTreeMap<&str, tera::Value> = node
        .attributes
        .iter()
        .map(|(name, a)| (name.as_str(), attribute_value(a)))
        .collect();
    out.set("attributes", attributes);
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
    out.set_unroll(unroll);
}
