//! The whole pipeline (decode, fold, lower, plan, emit, format) on arbitrary bytes: it must
//! return code or an error, never panic.
#![no_main]

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
