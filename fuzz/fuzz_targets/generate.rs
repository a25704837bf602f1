//! The whole pipeline (decode, fold, lower, plan, emit, format) on arbitrary bytes: it must
//! return code or an error, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = onnx2esp::generate_from_bytes(data, "fuzz.onnx");
});
