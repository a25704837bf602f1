//! A bounded fuzz run inside the normal test suite: the fixtures, mutated with a fixed seed,
//! must never make the generator panic. Every input either generates or gets an error.
//!
//! Besides byte mutations, a quarter of the cases get a resource bomb: the model is decoded
//! and an attribute, a dimension or a constant (pads, sizes, scales, split sizes) is set to a
//! huge, negative or wrapping value. The test profile has overflow checks on, so wrapped
//! arithmetic panics here; a bomb that allocates gigabytes fails the run.

use std::panic::{catch_unwind, AssertUnwindSafe};

use onnx2esp::inspect::SplitMix64 as Rng;

#[path = "../fuzz/bombs.rs"]
mod bombs;
use bombs::plant_bomb;

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
        // Recurrent layers: sizes from W, R, the input and hidden_size; state in Model; the
        // folded Shape/ConstantOfShape initial state of PyTorch's export.
        "codegen-tests/models/recurrent/lstm_bidirectional_y_h.onnx",
        "codegen-tests/models/recurrent/kws_gru_pt.onnx",
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
