//! The whole pipeline (decode, fold, lower, plan, emit, format) on arbitrary bytes: it must
//! return code or an error, never panic.
//!
//! The mutator is libFuzzer's own on the bytes, except that one mutation in four decodes the
//! model and plants a resource bomb in it (`fuzz/bombs.rs`): a huge or wrapping attribute,
//! dimension or constant, which byte mutations of a protobuf rarely reach.
#![no_main]

#[path = "../bombs.rs"]
mod bombs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Both scale policies: inputs of odd length go through `--scales snap`.
    let scales = if data.len() % 2 == 1 {
        onnx2esp::ScalePolicy::Snap(onnx2esp::SnapRule::Nearest)
    } else {
        onnx2esp::ScalePolicy::Exact
    };
    let options = onnx2esp::Options {
        scales,
        ..Default::default()
    };
    let _ = onnx2esp::generate_with(data, "fuzz.onnx", &options);
});

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = onnx2esp::inspect::SplitMix64(u64::from(seed));
    if rng.below(4) == 0 {
        if let Some(bombed) = bombs::plant_bomb(&mut rng, &data[..size]) {
            if bombed.len() <= max_size {
                data[..bombed.len()].copy_from_slice(&bombed);
                return bombed.len();
            }
        }
    }
    libfuzzer_sys::fuzzer_mutate(data, size, max_size)
});
