//! Reading and writing ONNX: decodes the protobuf ([`proto`]) within the limits of
//! [`limits`], and checks that the graph is a DAG listed in topological order. The result is a
//! small, owned [`Graph`] that the rewrites and the lowering walk; nothing downstream touches
//! protobuf types.

mod attrs;
mod axes;
pub mod limits;
pub mod proto;
mod tensor;
mod write;

pub use attrs::Attribute;
pub use axes::{axis_index, normalize_axis, quantized_dtype};
pub use tensor::{element_count, Constant, DType, MAX_CONSTANT_ELEMENTS, MAX_ELEMENTS};

use crate::error::{Error, Result};
use prost::Message;
use proto as pb;
use std::collections::{BTreeMap, BTreeSet};

/// Opsets whose semantics the lowering implements.
pub const SUPPORTED_OPSETS: std::ops::RangeInclusive<i64> = 10..=23;

/// A graph input or output.
#[derive(Debug, Clone)]
pub struct ValueInfo {
    pub name: String,
    pub dtype: DType,
    /// Static shape in ONNX order; `None` when the model does not say (outputs often don't).
    pub shape: Option<Vec<usize>>,
}

/// One ONNX node with its attributes decoded.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: BTreeMap<String, Attribute>,
}

impl Node {
    /// The node's one output; nodes with optional extra outputs in use are rejected.
    pub fn single_output(&self) -> Result<&str> {
        match self.outputs.iter().filter(|o| !o.is_empty()).count() {
            1 if !self.outputs[0].is_empty() => Ok(&self.outputs[0]),
            n => Err(Error::node(
                self,
                format!("expected exactly one output (the first), found {n} in use"),
            )),
        }
    }
}

impl Error {
    /// An error about one node.
    pub fn node(node: &Node, message: impl Into<String>) -> Self {
        Error::Node {
            node: node.name.clone(),
            op: node.op_type.clone(),
            message: message.into(),
        }
    }
}

/// A loaded model: constants folded, nodes in topological order.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The model's file name (no directories, so that output does not depend on where it lives).
    pub file_name: String,
    /// SHA-256 of the model bytes, lowercase hex.
    pub sha256: String,
    pub opset: i64,
    pub producer: String,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    pub constants: BTreeMap<String, Constant>,
    pub nodes: Vec<Node>,
    /// Static shapes the model declares for intermediate tensors (`value_info`); custom
    /// layers take their output shape from here.
    pub declared_shapes: BTreeMap<String, Vec<usize>>,
}

impl Graph {
    /// Decodes a model and checks that its nodes are in topological order (the rewrites that
    /// normalise it come after, in the rewrite stage). `file_name` is used in messages
    /// and in the header; `input_shapes` gives static shapes to graph inputs (required for
    /// dynamic ones).
    pub fn decode(
        bytes: &[u8],
        file_name: &str,
        input_shapes: &BTreeMap<String, Vec<usize>>,
    ) -> Result<Graph> {
        if bytes.is_empty() {
            return Err(Error::Decode {
                file: file_name.to_string(),
                message: "the file is empty".into(),
            });
        }
        limits::check_model_bytes(bytes, file_name)?;
        let model = pb::ModelProto::decode(bytes).map_err(|e| Error::Decode {
            file: file_name.to_string(),
            message: e.to_string(),
        })?;
        let opset = model
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .ok_or_else(|| Error::Model(format!("{file_name}: no default-domain opset import")))?;
        if !SUPPORTED_OPSETS.contains(&opset) {
            return Err(Error::Model(format!(
                "{file_name}: opset {opset} is not supported (supported: {}..={})",
                SUPPORTED_OPSETS.start(),
                SUPPORTED_OPSETS.end()
            )));
        }
        let graph = model
            .graph
            .ok_or_else(|| Error::Model(format!("{file_name}: the model has no graph")))?;

        let mut constants = BTreeMap::new();
        let mut constant_elements = 0usize;
        for init in &graph.initializer {
            let constant = Constant::from_proto(init)?;
            // Values are held as f64: eight bytes each, whatever the file stored.
            constant_elements = constant_elements.saturating_add(constant.len());
            if constant_elements > MAX_CONSTANT_ELEMENTS {
                return Err(Error::tensor(
                    &init.name,
                    format!(
                        "the initializers hold more than {} values in all, more than onnx2esp reads",
                        MAX_CONSTANT_ELEMENTS
                    ),
                ));
            }
            if constants.insert(init.name.clone(), constant).is_some() {
                return Err(Error::tensor(
                    &init.name,
                    "initializer is given more than once",
                ));
            }
        }
        let input_protos: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|v| !constants.contains_key(&v.name))
            .collect();
        if let Some(unknown) = input_shapes
            .keys()
            .find(|name| !input_protos.iter().any(|v| &v.name == *name))
        {
            let names: Vec<&str> = input_protos.iter().map(|v| v.name.as_str()).collect();
            return Err(Error::Usage {
                option: "--input-shape",
                message: format!(
                    "{file_name}: names '{unknown}', which is not a graph input (inputs: {names:?})"
                ),
            });
        }
        let inputs = input_protos
            .iter()
            .map(|v| value_info(v, true, input_shapes.get(&v.name)))
            .collect::<Result<Vec<_>>>()?;
        let outputs = graph
            .output
            .iter()
            .map(|v| value_info(v, false, None))
            .collect::<Result<Vec<_>>>()?;
        if inputs.is_empty() || outputs.is_empty() {
            return Err(Error::Model(format!(
                "{file_name}: the graph needs at least one input and one output"
            )));
        }

        let declared_shapes = graph
            .value_info
            .iter()
            .filter_map(|v| value_info(v, false, None).ok())
            .filter_map(|v| Some((v.name, v.shape?)))
            .collect();
        let mut nodes = Vec::with_capacity(graph.node.len());
        for (index, n) in graph.node.iter().enumerate() {
            let mut node = Node {
                // Unnamed nodes get a stable name from their position, for messages and code.
                name: if n.name.is_empty() {
                    format!("{}_{index}", n.op_type)
                } else {
                    n.name.clone()
                },
                op_type: n.op_type.clone(),
                domain: n.domain.clone(),
                inputs: n.input.clone(),
                outputs: n.output.clone(),
                attributes: BTreeMap::new(),
            };
            for a in &n.attribute {
                let value = Attribute::from_proto(a).map_err(|m| Error::node(&node, m))?;
                node.attributes.insert(a.name.clone(), value);
            }
            nodes.push(node);
        }

        let graph = Graph {
            file_name: file_name.to_string(),
            sha256: sha256_hex(bytes),
            opset,
            producer: format!("{} {}", model.producer_name, model.producer_version)
                .trim()
                .to_string(),
            inputs,
            outputs,
            constants,
            nodes,
            declared_shapes,
        };
        graph.check_topological_order()?;
        Ok(graph)
    }

    /// Every node input must be a graph input, a constant, optional (""), or the output of an
    /// earlier node; every tensor has one producer. This also rules out cycles.
    fn check_topological_order(&self) -> Result<()> {
        let mut known: BTreeSet<&str> = self.inputs.iter().map(|v| v.name.as_str()).collect();
        known.extend(self.constants.keys().map(String::as_str));
        let produced_later: BTreeSet<&str> = self
            .nodes
            .iter()
            .flat_map(|n| n.outputs.iter().map(String::as_str))
            .collect();
        for node in &self.nodes {
            for input in node.inputs.iter().filter(|i| !i.is_empty()) {
                if !known.contains(input.as_str()) {
                    let why = if produced_later.contains(input.as_str()) {
                        "is produced by a later node: the graph is cyclic or not in topological order"
                    } else {
                        "is produced by no node, initializer or graph input"
                    };
                    return Err(Error::node(node, format!("input '{input}' {why}")));
                }
            }
            for output in node.outputs.iter().filter(|o| !o.is_empty()) {
                if !known.insert(output) {
                    return Err(Error::node(
                        node,
                        format!("output '{output}' is already produced elsewhere"),
                    ));
                }
            }
        }
        for output in &self.outputs {
            if !known.contains(output.name.as_str()) {
                return Err(Error::tensor(
                    &output.name,
                    "graph output is produced by no node",
                ));
            }
        }
        Ok(())
    }

    /// The node that produces `tensor`, for messages.
    pub fn producer_of(&self, tensor: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.outputs.iter().any(|o| o == tensor))
    }
}

fn value_info(
    v: &pb::ValueInfoProto,
    is_input: bool,
    given_shape: Option<&Vec<usize>>,
) -> Result<ValueInfo> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    use pb::type_proto::Value;
    let Some(Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(Error::tensor(&v.name, "graph input/output is not a tensor"));
    };
    let dtype = DType::from_onnx(t.elem_type).map_err(|m| Error::tensor(&v.name, m))?;
    let shape = match (&t.shape, given_shape) {
        (Some(shape), Some(given)) if shape.dim.len() != given.len() => {
            return Err(Error::tensor(
                &v.name,
                format!(
                    "--input-shape gives {} dimensions, the model has {}",
                    given.len(),
                    shape.dim.len()
                ),
            ))
        }
        (_, Some(given)) => Some(given.clone()),
        (None, None) => None,
        (Some(shape), None) => {
            let mut dims = Vec::with_capacity(shape.dim.len());
            let mut known = true;
            for (axis, d) in shape.dim.iter().enumerate() {
                match &d.value {
                    Some(Dim::DimValue(n)) if *n > 0 => {
                        dims.push(usize::try_from(*n).unwrap_or(usize::MAX))
                    }
                    _ if !is_input => known = false,
                    other => {
                        let what = match other {
                            Some(Dim::DimParam(p)) => {
                                format!("is dynamic ('{}')", p.escape_debug())
                            }
                            Some(Dim::DimValue(n)) => format!("has size {n}"),
                            None => "has no size".to_string(),
                        };
                        return Err(Error::tensor(
                            &v.name,
                            format!(
                                "axis {axis} of the graph input {what}; give its static shape with \
                                 --input-shape {}=d0,d1,... (Builder::input_shape)",
                                v.name.escape_debug()
                            ),
                        ));
                    }
                }
            }
            known.then_some(dims)
        }
    };
    if is_input && shape.is_none() {
        return Err(Error::tensor(&v.name, "graph input has no shape"));
    }
    if let Some(dims) = &shape {
        match tensor::element_count(dims) {
            Some(n) if n > 0 || !is_input => {}
            Some(_) if given_shape.is_some() => {
                return Err(Error::tensor(
                    &v.name,
                    format!("--input-shape {dims:?} has no elements"),
                ))
            }
            Some(_) => {
                return Err(Error::tensor(
                    &v.name,
                    format!("graph input shape {dims:?} has no elements"),
                ))
            }
            None => {
                return Err(Error::tensor(
                    &v.name,
                    format!(
                        "shape {dims:?} has more elements than onnx2esp accepts ({})",
                        tensor::MAX_ELEMENTS
                    ),
                ))
            }
        }
    }
    Ok(ValueInfo {
        name: v.name.clone(),
        dtype,
        shape,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
