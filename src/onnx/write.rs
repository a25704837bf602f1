//! Writing a [`Graph`] back to ONNX bytes, so that a rewritten graph (snapped scales, QOperator
//! nodes expanded) can be run by a float reference next to the original model.

use super::proto as pb;
use super::{Attribute, Constant, DType, Graph, Node, ValueInfo};
use prost::Message;

impl Graph {
    /// The graph as an ONNX model: constants become initializers, nodes keep their order.
    pub fn to_onnx_bytes(&self) -> Vec<u8> {
        let graph = pb::GraphProto {
            name: self.file_name.clone(),
            node: self.nodes.iter().map(node_proto).collect(),
            initializer: self
                .constants
                .iter()
                .map(|(name, c)| tensor_proto(name, c))
                .collect(),
            input: self.inputs.iter().map(value_info_proto).collect(),
            output: self.outputs.iter().map(value_info_proto).collect(),
            ..Default::default()
        };
        // Every non-default domain a node uses is imported at version 1 (com.microsoft's
        // quantized ops, custom layers).
        let mut domains: Vec<&str> = self
            .nodes
            .iter()
            .map(|n| n.domain.as_str())
            .filter(|d| !d.is_empty() && *d != "ai.onnx")
            .collect();
        domains.sort_unstable();
        domains.dedup();
        let mut opset_import = vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: self.opset,
        }];
        opset_import.extend(domains.into_iter().map(|d| pb::OperatorSetIdProto {
            domain: d.to_string(),
            version: 1,
        }));
        pb::ModelProto {
            ir_version: 8,
            producer_name: "onnx2esp".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            opset_import,
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }
}

fn node_proto(node: &Node) -> pb::NodeProto {
    pb::NodeProto {
        name: node.name.clone(),
        op_type: node.op_type.clone(),
        domain: node.domain.clone(),
        input: node.inputs.clone(),
        output: node.outputs.clone(),
        attribute: node
            .attributes
            .iter()
            .map(|(name, value)| attribute_proto(name, value))
            .collect(),
        ..Default::default()
    }
}

fn attribute_proto(name: &str, value: &Attribute) -> pb::AttributeProto {
    use pb::attribute_proto::AttributeType as T;
    let mut a = pb::AttributeProto {
        name: name.to_string(),
        ..Default::default()
    };
    let kind = match value {
        Attribute::Int(v) => {
            a.i = *v;
            T::Int
        }
        Attribute::Float(v) => {
            a.f = *v;
            T::Float
        }
        Attribute::String(v) => {
            a.s = v.clone().into_bytes();
            T::String
        }
        Attribute::Ints(v) => {
            a.ints = v.clone();
            T::Ints
        }
        Attribute::Floats(v) => {
            a.floats = v.clone();
            T::Floats
        }
        Attribute::Strings(v) => {
            a.strings = v.iter().map(|s| s.clone().into_bytes()).collect();
            T::Strings
        }
        Attribute::Tensor(c) => {
            a.t = Some(tensor_proto(name, c));
            T::Tensor
        }
    };
    a.r#type = kind as i32;
    a
}

fn onnx_type(dtype: DType) -> pb::tensor_proto::DataType {
    use pb::tensor_proto::DataType as D;
    match dtype {
        DType::F32 => D::Float,
        DType::F64 => D::Double,
        DType::I8 => D::Int8,
        DType::U8 => D::Uint8,
        DType::I16 => D::Int16,
        DType::U16 => D::Uint16,
        DType::I32 => D::Int32,
        DType::I64 => D::Int64,
        DType::Bool => D::Bool,
    }
}

/// Values are stored as little-endian `raw_data`, the inverse of `Constant::from_proto`.
fn tensor_proto(name: &str, c: &Constant) -> pb::TensorProto {
    let mut raw = Vec::new();
    for &v in &c.values {
        match c.dtype {
            DType::F32 => raw.extend((v as f32).to_le_bytes()),
            DType::F64 => raw.extend(v.to_le_bytes()),
            DType::I8 => raw.extend((v as i8).to_le_bytes()),
            DType::U8 | DType::Bool => raw.push(v as u8),
            DType::I16 => raw.extend((v as i16).to_le_bytes()),
            DType::U16 => raw.extend((v as u16).to_le_bytes()),
            DType::I32 => raw.extend((v as i32).to_le_bytes()),
            DType::I64 => raw.extend((v as i64).to_le_bytes()),
        }
    }
    pb::TensorProto {
        name: name.to_string(),
        data_type: onnx_type(c.dtype) as i32,
        dims: c.dims.iter().map(|&d| d as i64).collect(),
        raw_data: raw,
        ..Default::default()
    }
}

fn value_info_proto(v: &ValueInfo) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let shape = v.shape.as_ref().map(|dims| pb::TensorShapeProto {
        dim: dims
            .iter()
            .map(|&d| Dimension {
                value: Some(Value::DimValue(d as i64)),
                ..Default::default()
            })
            .collect(),
    });
    pb::ValueInfoProto {
        name: v.name.clone(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: onnx_type(v.dtype) as i32,
                shape,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Loading what was written gives the same graph (file name and hash aside).
    #[test]
    fn a_written_graph_loads_back_unchanged() {
        let bytes = std::fs::read("examples/models/digits.onnx").unwrap();
        let graph = Graph::decode(&bytes, "digits.onnx", &BTreeMap::new()).unwrap();
        let again = Graph::decode(&graph.to_onnx_bytes(), "digits.onnx", &BTreeMap::new()).unwrap();
        assert_eq!(graph.constants, again.constants);
        assert_eq!(format!("{:?}", graph.nodes), format!("{:?}", again.nodes));
        assert_eq!(format!("{:?}", graph.inputs), format!("{:?}", again.inputs));
        assert_eq!(
            format!("{:?}", graph.outputs),
            format!("{:?}", again.outputs)
        );
        assert_eq!(graph.opset, again.opset);
    }
}
