//! Runs the onnx2esp-generated digits classifier on a few embedded test images and prints the
//! prediction, the label and the time per inference over esp-println.
//!
//! The model is compiled from `../models/digits.onnx` by `build.rs` (onnx2esp's `Builder`);
//! no heap, no `unsafe`: the model, with its working arena, lives in a `static`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::cell::RefCell;

use critical_section::Mutex;
use esp_backtrace as _; // panic handler that prints over esp-println
use esp_hal::main;
use esp_hal::time::Instant;
use esp_println::println;

/// The generated module: `Model`, `INPUT_LEN`, `OUTPUT_LEN`, the exponents and `ARENA_BYTES`.
mod digits {
    include!(concat!(env!("OUT_DIR"), "/digits.rs"));
}

/// Test images recorded with ONNX Runtime (see build.rs).
mod samples {
    include!(concat!(env!("OUT_DIR"), "/samples.rs"));
}

// The image descriptor the ESP-IDF second-stage bootloader checks (required by esp-hal 1.x).
esp_bootloader_esp_idf::esp_app_desc!();

/// The model and its arena in `.bss`: `Model::new()` is a `const fn`, so no heap and no
/// runtime initialisation. The mutex hands out `&mut` inside a critical section.
static MODEL: Mutex<RefCell<digits::Model>> = Mutex::new(RefCell::new(digits::Model::new()));

fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

#[main]
fn main() -> ! {
    let _peripherals = esp_hal::init(esp_hal::Config::default());

    println!(
        "onnx2esp digits: input {:?} (exponent {}), output {:?} (exponent {}), arena {} bytes",
        digits::INPUT_SHAPE,
        digits::INPUT_EXPONENT,
        digits::OUTPUT_SHAPE,
        digits::OUTPUT_EXPONENT,
        digits::ARENA_BYTES,
    );

    let mut correct = 0;
    let mut total_us = 0u64;
    for (i, (image, label, ort_class)) in samples::SAMPLES.iter().enumerate() {
        let mut logits = [0f32; digits::OUTPUT_LEN];
        // Interrupts are off inside the critical section, which also keeps the timing clean.
        let us = critical_section::with(|cs| {
            let mut model = MODEL.borrow_ref_mut(cs);
            let start = Instant::now();
            model.predict(image, &mut logits);
            start.elapsed().as_micros()
        });
        let predicted = argmax(&logits);
        correct += usize::from(predicted == usize::from(*label));
        total_us += us;
        println!(
            "sample {i}: predicted {predicted}, label {label}, onnxruntime {ort_class}, {us} us"
        );
    }
    println!(
        "{correct}/{} correct, {} us per inference on average",
        samples::SAMPLE_COUNT,
        total_us / samples::SAMPLE_COUNT as u64
    );

    loop {
        core::hint::spin_loop();
    }
}
