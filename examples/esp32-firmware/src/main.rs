//! Runs the onnx2esp-generated digits classifier on a few embedded test images and prints the
//! prediction, the label and the time per inference over esp-println, then the time of each
//! layer (`Model::run_with` with a `LayerProbe`).
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

/// Times each layer of `Model::run_with`: from `before` to `after`.
struct LayerTimer {
    start: Instant,
}

impl digits::LayerProbe for LayerTimer {
    fn before(&mut self, _index: usize, _name: &str) {
        self.start = Instant::now();
    }

    fn after(&mut self, index: usize, name: &str, _output: digits::LayerOutput<'_>) {
        let us = self.start.elapsed().as_micros();
        println!("layer {index} ({name}): {us} us");
    }
}

/// An input value as int8 at `INPUT_EXPONENT`, for `run_with` (ties away from zero: core has
/// no `f32::round`, and for timing one LSB does not matter).
fn quantize(x: f32) -> i8 {
    let scaled = x * (1u32 << -digits::INPUT_EXPONENT) as f32;
    let rounded = if scaled >= 0.0 {
        scaled + 0.5
    } else {
        scaled - 0.5
    };
    (rounded as i32).clamp(-128, 127) as i8
}

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

    // The model checks itself on the samples embedded at build time, bit for bit.
    match critical_section::with(|cs| MODEL.borrow_ref_mut(cs).self_test()) {
        Ok(()) => println!("self test: {} samples, all outputs exact", digits::SELF_TEST_SAMPLES),
        Err(m) => println!(
            "self test FAILED: sample {}, output element {}: expected {}, got {}",
            m.sample, m.element, m.expected, m.actual
        ),
    }

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

    // Per-layer time, on the first image.
    let mut input = [0i8; digits::INPUT_LEN];
    for (q, &x) in input.iter_mut().zip(samples::SAMPLES[0].0.iter()) {
        *q = quantize(x);
    }
    let mut output = [0i8; digits::OUTPUT_LEN];
    critical_section::with(|cs| {
        let mut timer = LayerTimer {
            start: Instant::now(),
        };
        MODEL
            .borrow_ref_mut(cs)
            .run_with(&mut timer, &input, &mut output);
    });

    loop {
        core::hint::spin_loop();
    }
}
