//! Bounds checked on the raw bytes before the protobuf is decoded. Decoding multiplies memory:
//! an empty node takes two bytes in the file and a few hundred once decoded, so a file of
//! repeated empty messages would take gigabytes. A walk over the wire format counts every
//! field of every message the decoder would build (model, graphs, nodes, attributes, tensors,
//! value infos, functions) without allocating, and a model over the limits is refused.

use crate::error::{Error, Result};

/// The largest model file onnx2esp reads. Its weights must fit a microcontroller's flash
/// (4 MiB by default); float weights take four times their int8 size.
pub const MAX_MODEL_BYTES: usize = 256 << 20;

/// The most protobuf fields (nodes, inputs, attributes, dims, ...) a model may hold. The
/// largest models onnx2esp is meant for have some thousands; each decoded field costs at most
/// a few hundred bytes, so this bounds the decoded model to about 200 MB.
pub const MAX_FIELDS: usize = 1 << 19;

/// Messages nest deeper than this only in hostile files (subgraphs in attributes).
const MAX_DEPTH: usize = 32;

/// The messages whose fields are counted, and which of their fields are messages in turn.
#[derive(Clone, Copy)]
enum Message {
    Model,
    Graph,
    Node,
    Attribute,
    Tensor,
    ValueInfo,
    Type,
    TensorType,
    Shape,
    Function,
    /// Counted as one field; its contents are not.
    Opaque,
}

impl Message {
    /// The message type of field `number` (ONNX's onnx.proto field numbers).
    fn child(self, number: u64) -> Message {
        use Message::*;
        match (self, number) {
            (Model, 7) => Graph,
            (Model, 25) => Function,
            (Graph, 1) => Node,
            (Graph, 5) => Tensor,
            (Graph, 11..=13) => ValueInfo,
            (Node, 5) => Attribute,
            (Attribute, 5 | 10) => Tensor,
            (Attribute, 6 | 11) => Graph,
            (ValueInfo, 2) => Type,
            (Type, 1) => TensorType,
            (TensorType, 2) => Shape,
            (Function, 7) => Node,
            (Function, 11) => Attribute,
            _ => Opaque,
        }
    }
}

/// Refuses a model over [`MAX_MODEL_BYTES`] or [`MAX_FIELDS`], or that nests messages past a
/// sane depth, before anything is decoded. Malformed wire data is left to the decoder, which
/// reports it.
pub fn check_model_bytes(bytes: &[u8], file_name: &str) -> Result<()> {
    let refuse = |message: String| Error::Decode {
        file: file_name.to_string(),
        message,
    };
    if bytes.len() > MAX_MODEL_BYTES {
        return Err(refuse(format!(
            "the file has {} bytes, more than onnx2esp reads ({MAX_MODEL_BYTES})",
            bytes.len()
        )));
    }
    let mut fields = 0usize;
    match count_fields(bytes, Message::Model, 0, &mut fields) {
        Err(Over::Fields) => Err(refuse(format!(
            "the model has more than {MAX_FIELDS} protobuf fields (nodes, inputs, attributes, \
             dims, ...), more than onnx2esp reads"
        ))),
        Err(Over::Depth) => Err(refuse(format!("messages nest more than {MAX_DEPTH} deep"))),
        Ok(()) | Err(Over::Malformed) => Ok(()),
    }
}

enum Over {
    Fields,
    Depth,
    Malformed,
}

/// Counts the fields of `bytes`, a message of type `message`, and of its sub-messages.
fn count_fields(
    bytes: &[u8],
    message: Message,
    depth: usize,
    fields: &mut usize,
) -> Result<(), Over> {
    if depth > MAX_DEPTH {
        return Err(Over::Depth);
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        let key = varint(&mut rest).ok_or(Over::Malformed)?;
        *fields += 1;
        if *fields > MAX_FIELDS {
            return Err(Over::Fields);
        }
        match key & 7 {
            0 => {
                varint(&mut rest).ok_or(Over::Malformed)?;
            }
            1 => rest = rest.get(8..).ok_or(Over::Malformed)?,
            5 => rest = rest.get(4..).ok_or(Over::Malformed)?,
            2 => {
                let len = usize::try_from(varint(&mut rest).ok_or(Over::Malformed)?)
                    .map_err(|_| Over::Malformed)?;
                let body = rest.get(..len).ok_or(Over::Malformed)?;
                rest = &rest[len..];
                match message.child(key >> 3) {
                    Message::Opaque => {}
                    child => count_fields(body, child, depth + 1, fields)?,
                }
            }
            _ => return Err(Over::Malformed),
        }
    }
    Ok(())
}

/// Reads one base-128 varint.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7F) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field `tag` holding `body`.
    fn wrap(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let mut len = body.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7F) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn counts_nodes_inside_the_graph() {
        // ModelProto.graph (field 7) holding empty GraphProto.node entries (field 1).
        let model = |nodes: usize| wrap(0x3A, &[0x0A, 0x00].repeat(nodes));
        assert!(check_model_bytes(&model(1000), "m.onnx").is_ok());
        let message = check_model_bytes(&model(MAX_FIELDS), "m.onnx")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("more than 524288 protobuf fields"),
            "{message}"
        );
    }

    #[test]
    fn subgraphs_nested_past_the_depth_are_refused() {
        // graph -> node -> attribute.g -> graph -> ...
        let mut graph = Vec::new();
        for _ in 0..20 {
            let attribute = wrap(0x32, &graph); // AttributeProto.g
            let node = wrap(0x2A, &attribute); // NodeProto.attribute
            graph = wrap(0x0A, &node); // GraphProto.node
        }
        let message = check_model_bytes(&wrap(0x3A, &graph), "m.onnx")
            .unwrap_err()
            .to_string();
        assert!(message.contains("nest more than 32 deep"), "{message}");
    }

    #[test]
    fn malformed_bytes_are_left_to_the_decoder() {
        assert!(check_model_bytes(&[0x08, 0xFF, 0xFF, 0xFF], "m.onnx").is_ok());
        assert!(check_model_bytes(&[0x3A, 0x7F, 0x01], "m.onnx").is_ok());
    }
}
