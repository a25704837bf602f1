//! A bounded fuzz run inside the normal test suite: the fixtures, mutated with a fixed seed,
//! must never make the generator panic. Every input either generates or gets an error.
//!
//! Besides byte mutations, a quarter of the cases get a resource bomb: the model is decoded
//! and an attribute, a dimension or a constant (pads, sizes, scales, split sizes) is set to a
//! huge, negative or wrapping value. The test profile has overflow checks on, so wrapped
//! arithmetic panics here; a bomb that allocates gigabytes fails the run.

use std::panic::{catch_unwind, AssertUnwindSafe};

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
];

/// Decodes the model, plants one bomb, encodes it again; `None` when the bytes do not decode.
fn plant_bomb(rng: &mut Rng, bytes: &[u8]) -> Option<Vec<u8>> {
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
                r#type: if name == "blocksize" || name == "axis" || name == "group" {
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

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len().max(1);
    match rng.below(7) {
        0 => {
            let i = rng.below(len);
            if let Some(b) = bytes.get_mut(i) {
                *b ^= 1 << rng.below(8);
            }
        }
        1 => {
            let i = rng.below(len);
            if let Some(b) = bytes.get_mut(i) {
                *b = [0x00, 0xFF, 0x7F, 0x80, 0x01][rng.below(5)];
            }
        }
        2 => bytes.truncate(rng.below(len)),
        3 => {
            let start = rng.below(len);
            let end = (start + rng.below(64)).min(bytes.len());
            let span: Vec<u8> = bytes.get(start..end).unwrap_or_default().to_vec();
            let at = rng.below(len);
            bytes.splice(at.min(bytes.len())..at.min(bytes.len()), span);
        }
        4 => {
            let start = rng.below(len);
            let end = (start + rng.below(16)).min(bytes.len());
            if start < end {
                bytes.drain(start..end);
            }
        }
        5 => {
            let i = rng.below(len);
            let value = rng.next_u64().to_le_bytes();
            for (k, v) in value.iter().enumerate().take(rng.below(8) + 1) {
                if let Some(b) = bytes.get_mut(i + k) {
                    *b = *v;
                }
            }
        }
        _ => {
            let at = rng.below(len).min(bytes.len());
            let n = rng.below(8) + 1;
            let insert: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            bytes.splice(at..at, insert);
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let root = env!("CARGO_MANIFEST_DIR");
    [
        "examples/models/digits.onnx",
        "codegen-tests/models/digits_esppq.onnx",
        "examples/custom-layer/models/swish_layer.onnx",
        // The QOperator format, which is rewritten into QDQ before lowering.
        "codegen-tests/models/ops/qoperator_chain.onnx",
        // ONNX Runtime's quantizer (scales that are not powers of two, asymmetric uint8,
        // per-channel, int16): the scale pass under both policies.
        "codegen-tests/models/ort/digits_ort_uint8.onnx",
        "codegen-tests/models/ort/digits_ort_perchannel.onnx",
        "codegen-tests/models/ort/digits_ort_int16.onnx",
        // The ops whose attributes and constants size their outputs: resource-bomb targets.
        "codegen-tests/models/ops/pad_constant.onnx",
        "codegen-tests/models/ops/resize_nearest_half_pixel.onnx",
        "codegen-tests/models/ops/resize_linear_half_pixel_2x.onnx",
        "codegen-tests/models/ops/split.onnx",
        "codegen-tests/models/ops/depth_to_space_dcr.onnx",
        "codegen-tests/models/ops/conv_transpose_stride2.onnx",
        "codegen-tests/models/ops/maxpool2d_ceil_dilated.onnx",
        "codegen-tests/models/ops/transpose.onnx",
        "codegen-tests/models/ops/gather_constant.onnx",
        "codegen-tests/models/ops/slice_steps.onnx",
    ]
    .iter()
    .map(|p| std::fs::read(format!("{root}/{p}")).unwrap())
    .collect()
}

#[test]
fn mutated_models_never_panic() {
    const INPUTS: usize = 20_000;
    let seeds = seeds();
    let mut rng = Rng(std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0E5A));
    // Panics are caught and counted with where they happened; keep them out of the output.
    static LOCATION: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
    std::panic::set_hook(Box::new(|info| {
        if let (Some(l), Ok(mut slot)) = (info.location(), LOCATION.lock()) {
            *slot = format!("{}:{}", l.file(), l.line());
        }
    }));
    let (mut generated, mut errors, mut panics, mut bombs) = (0, 0, Vec::new(), 0);
    for case in 0..INPUTS {
        let mut bytes = seeds[case % seeds.len()].clone();
        if rng.below(4) == 0 {
            if let Some(bombed) = plant_bomb(&mut rng, &bytes) {
                bytes = bombed;
                bombs += 1;
            }
        } else {
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, &mut bytes);
            }
        }
        // Every other case under `--scales snap`, so that both policies meet broken input;
        // and every other pair with every static in a weights file.
        let options = onnx2esp::Options {
            scales: if case % 2 == 0 {
                onnx2esp::ScalePolicy::Exact
            } else {
                onnx2esp::ScalePolicy::Snap(onnx2esp::SnapRule::Nearest)
            },
            weights_file_threshold: Some(0),
            ..Default::default()
        };
        match catch_unwind(AssertUnwindSafe(|| {
            if case % 4 < 2 {
                onnx2esp::generate_with(&bytes, "fuzz.onnx", &options)
            } else {
                onnx2esp::generate_files(&bytes, "fuzz.onnx", "fuzz", &options).map(|g| g.code)
            }
        })) {
            Ok(Ok(_)) => generated += 1,
            Ok(Err(_)) => errors += 1,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let location = LOCATION.lock().map(|l| l.clone()).unwrap_or_default();
                panics.push((case, message, location));
            }
        }
    }
    let _ = std::panic::take_hook();
    println!(
        "{INPUTS} mutated models ({bombs} with a resource bomb): {generated} generated, {errors} clear errors, {} panics",
        panics.len()
    );
    assert!(
        panics.is_empty(),
        "panics (case, message, location): {:?}",
        &panics[..panics.len().min(10)]
    );
}
