//! Resource bombs planted in a decoded model: an attribute, a dimension or a constant (pads,
//! sizes, scales, split sizes, a recurrent layer's hidden size) set to a huge, negative or wrapping value, a rank in the
//! thousands, a name of 70,000 characters. Shared by the bounded fuzz of the test suite
//! (`tests/fuzz_bounded.rs`) and the cargo-fuzz target's mutator.

use onnx2esp::inspect::SplitMix64 as Rng;
use onnx2esp::onnx::proto as pb;
use prost::Message;

/// Integers that break size arithmetic: the extremes, powers of two whose products or sums
/// wrap, and sizes far beyond any microcontroller.
const INT_BOMBS: &[i64] = &[
    i64::MAX,
    i64::MIN,
    1 << 62,
    1 << 32,
    (1 << 32) + 1,
    1 << 31,
    65_536,
    100_000,
    -1,
    0,
];

/// Floats for scales and constants.
const FLOAT_BOMBS: &[f32] = &[1e6, 1e30, -1.0, 0.0, f32::NAN, f32::INFINITY, 1e-30];

/// Attributes that size windows, blocks and outputs, added or overwritten.
const SIZE_ATTRIBUTES: &[&str] = &[
    "kernel_shape",
    "pads",
    "strides",
    "dilations",
    "blocksize",
    "axis",
    "perm",
    "split",
    "group",
    "output_padding",
    "hidden_size",
    "layout",
];

/// Decodes the model, plants one bomb, encodes it again; `None` when the bytes do not decode.
pub fn plant_bomb(rng: &mut Rng, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut model = pb::ModelProto::decode(bytes).ok()?;
    let graph = model.graph.as_mut()?;
    let int_bomb = |rng: &mut Rng| INT_BOMBS[rng.below(INT_BOMBS.len())];
    match rng.below(5) {
        // A huge attribute on a random node, as one value or a list.
        0 if !graph.node.is_empty() => {
            let n = rng.below(graph.node.len());
            let name = SIZE_ATTRIBUTES[rng.below(SIZE_ATTRIBUTES.len())];
            let values: Vec<i64> = (0..rng.below(4) + 1).map(|_| int_bomb(rng)).collect();
            let node = &mut graph.node[n];
            node.attribute.retain(|a| a.name != name);
            node.attribute.push(pb::AttributeProto {
                name: name.into(),
                r#type: if ["blocksize", "axis", "group", "hidden_size", "layout"].contains(&name) {
                    pb::attribute_proto::AttributeType::Int as i32
                } else {
                    pb::attribute_proto::AttributeType::Ints as i32
                },
                i: values[0],
                ints: values,
                ..Default::default()
            });
        }
        // An integer constant (pads, sizes, split, shape, indices): one value a bomb, or all
        // of them summing past 2^64 (i64::MAX twice wraps to the rest).
        1 => {
            let ints: Vec<&mut pb::TensorProto> = graph
                .initializer
                .iter_mut()
                .filter(|t| t.data_type == pb::tensor_proto::DataType::Int64 as i32)
                .collect();
            if ints.is_empty() {
                return None;
            }
            let pick = rng.below(ints.len());
            let tensor = ints.into_iter().nth(pick)?;
            let mut values: Vec<i64> = if tensor.raw_data.is_empty() {
                tensor.int64_data.clone()
            } else {
                tensor
                    .raw_data
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            };
            if values.is_empty() {
                return None;
            }
            if values.len() >= 3 && rng.below(2) == 0 {
                values[0] = i64::MAX;
                values[1] = i64::MAX;
            } else {
                let i = rng.below(values.len());
                values[i] = int_bomb(rng);
            }
            tensor.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensor.int64_data.clear();
        }
        // A float constant (Resize scales, a bias, a quantization scale).
        2 => {
            let floats: Vec<&mut pb::TensorProto> = graph
                .initializer
                .iter_mut()
                .filter(|t| t.data_type == pb::tensor_proto::DataType::Float as i32)
                .collect();
            if floats.is_empty() {
                return None;
            }
            let pick = rng.below(floats.len());
            let tensor = floats.into_iter().nth(pick)?;
            let mut values: Vec<f32> = if tensor.raw_data.is_empty() {
                tensor.float_data.clone()
            } else {
                tensor
                    .raw_data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            };
            if values.is_empty() {
                return None;
            }
            let i = rng.below(values.len());
            values[i] = FLOAT_BOMBS[rng.below(FLOAT_BOMBS.len())];
            tensor.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensor.float_data.clear();
        }
        // A graph input dimension: huge, or a rank in the thousands.
        3 => {
            let input = graph.input.first_mut()?;
            let Some(pb::type_proto::Value::TensorType(t)) =
                input.r#type.as_mut().and_then(|t| t.value.as_mut())
            else {
                return None;
            };
            let shape = t.shape.as_mut()?;
            use pb::tensor_shape_proto::{dimension::Value as Dim, Dimension};
            if rng.below(4) == 0 {
                let one = Dimension {
                    value: Some(Dim::DimValue(1)),
                    ..Default::default()
                };
                shape
                    .dim
                    .extend(std::iter::repeat_n(one, 1000 + rng.below(4000)));
            } else if !shape.dim.is_empty() {
                let i = rng.below(shape.dim.len());
                shape.dim[i].value = Some(Dim::DimValue(int_bomb(rng)));
            }
        }
        // A node name thousands of characters long, with terminal escapes.
        _ if !graph.node.is_empty() => {
            let n = rng.below(graph.node.len());
            graph.node[n].name = format!("\u{1b}[2J\u{202e}{}", "n".repeat(70_000));
        }
        _ => return None,
    }
    Some(model.encode_to_vec())
}
