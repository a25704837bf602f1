//! Every module build.rs generated (every op fixture and every whole model, from its
//! generated table: no hand list) on random integer inputs, in this debug build (overflow
//! checks on): no input may panic, and `predict` must agree with `run` (a second path through
//! the same module: quantize, run, dequantize). `predict` must not panic on NaN, infinities
//! and out-of-range reals either. The Gemm override must agree with the built-in kernel on
//! every input, not only on the recorded ones, and so must the module that reads its weights
//! from a weights file with the one that has them inline.

#[path = "common/modules.rs"]
mod modules;

use codegen_tests::*;
use modules::{Module, MODULES};
use onnx2esp::inspect::SplitMix64;
use proptest::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Multiply-accumulates each module may spend on random cases in this debug build: a small
/// layer gets the most cases ([`MOST_CASES`]), MobileNetV2 (17.6 M MACs) a dozen.
const MAC_BUDGET: u64 = 200_000_000;
const MOST_CASES: u64 = 200;
const FEWEST_CASES: u64 = 8;

/// Random integer inputs for `module`, case `case`: uniform over each input type, only its
/// two extremes (which push accumulators to their bounds), or a mix of both.
fn integer_inputs(module: &Module, case: u64, rng: &mut SplitMix64) -> Vec<Vec<i32>> {
    module
        .inputs
        .iter()
        .map(|port| {
            let (lo, hi) = port.range();
            (0..port.len)
                .map(|_| {
                    let extreme = if rng.below(2) == 0 { lo } else { hi };
                    let uniform = lo + rng.below((hi - lo + 1) as usize) as i32;
                    match case % 3 {
                        0 => uniform,
                        1 => extreme,
                        _ if rng.below(2) == 0 => extreme,
                        _ => uniform,
                    }
                })
                .collect()
        })
        .collect()
}

/// One case: `run` on `q`, `predict` on `q * 2^e` (exact in f32, quantizes back to q), and
/// their agreement; the error, if any.
fn check_case(module: &Module, q: &[Vec<i32>]) -> Result<(), String> {
    let inputs: Vec<&[i32]> = q.iter().map(Vec::as_slice).collect();
    let mut integer: Vec<Vec<f64>> = module.outputs.iter().map(|p| vec![0.0; p.len]).collect();
    let mut outputs: Vec<&mut [f64]> = integer.iter_mut().map(Vec::as_mut_slice).collect();
    (module.run)(&inputs, &mut outputs);
    let real_inputs: Vec<Vec<f32>> = q
        .iter()
        .zip(module.inputs)
        .map(|(q, port)| {
            q.iter()
                .map(|&v| v as f32 * 2f32.powi(port.exponent))
                .collect()
        })
        .collect();
    let real_refs: Vec<&[f32]> = real_inputs.iter().map(Vec::as_slice).collect();
    let mut real: Vec<Vec<f64>> = module.outputs.iter().map(|p| vec![0.0; p.len]).collect();
    let mut outputs: Vec<&mut [f64]> = real.iter_mut().map(Vec::as_mut_slice).collect();
    (module.predict)(&real_refs, &mut outputs);
    for (port, (integer, real)) in module.outputs.iter().zip(integer.iter().zip(&real)) {
        if port.ty == "f32" {
            continue; // no integer form to compare with
        }
        for (k, (&i, &r)) in integer.iter().zip(real).enumerate() {
            let expected = i * 2f64.powi(port.exponent);
            if r != expected {
                return Err(format!(
                    "output element {k}: predict {r}, run {i} (= {expected})"
                ));
            }
        }
    }
    Ok(())
}

/// `predict` on reals no quantizer expects: NaN, infinities, signed zero, beyond the range.
fn check_wild_reals(module: &Module, rng: &mut SplitMix64) {
    const WILD: [f32; 8] = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        f32::MAX,
        f32::MIN,
        1e30,
        -1e-30,
    ];
    let inputs: Vec<Vec<f32>> = module
        .inputs
        .iter()
        .map(|port| (0..port.len).map(|_| WILD[rng.below(WILD.len())]).collect())
        .collect();
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let mut real: Vec<Vec<f64>> = module.outputs.iter().map(|p| vec![0.0; p.len]).collect();
    let mut outputs: Vec<&mut [f64]> = real.iter_mut().map(Vec::as_mut_slice).collect();
    (module.predict)(&refs, &mut outputs);
}

#[test]
fn every_module_never_panics_and_predict_agrees_with_run() {
    let ops = MODULES.iter().filter(|m| m.is_op_fixture()).count();
    let whole = MODULES.len() - ops;
    assert!(
        ops > 100 && whole > 15,
        "the table lists {ops} op and {whole} whole-model modules"
    );
    let mut failures = Vec::new();
    let mut cases_run = 0;
    for (index, module) in MODULES.iter().enumerate() {
        let cases = (MAC_BUDGET / module.macs.max(1)).clamp(FEWEST_CASES, MOST_CASES);
        let mut rng = SplitMix64(index as u64);
        for case in 0..cases {
            let q = integer_inputs(module, case, &mut rng);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                check_wild_reals(module, &mut SplitMix64(case));
                check_case(module, &q)
            }));
            cases_run += 1;
            let error = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(panic) => format!(
                    "panicked: {}",
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                ),
            };
            failures.push(format!("{} case {case}: {error}", module.name));
            break;
        }
    }
    println!("{} modules, {cases_run} cases", MODULES.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `run` on `q` and `predict` on `q * 2^e`, and checks that they agree exactly.
macro_rules! check_module {
    ($module:ident, $q:expr) => {{
        use $module as m;
        let q: [i8; m::INPUT_LEN] = $q;
        let mut model = m::Model::new();
        let mut integer = [0i8; m::OUTPUT_LEN];
        model.run(&q, &mut integer);
        // q * 2^e is exact in f32 and quantizes back to q.
        let x: [f32; m::INPUT_LEN] = q.map(|v| v as f32 * 2f32.powi(m::INPUT_EXPONENT));
        let mut real = [0f32; m::OUTPUT_LEN];
        model.predict(&x, &mut real);
        for (r, i) in real.iter().zip(integer.iter()) {
            prop_assert_eq!(*r, *i as f32 * 2f32.powi(m::OUTPUT_EXPONENT));
        }
        integer
    }};
}

fn int8_array<const N: usize>() -> impl Strategy<Value = [i8; N]> {
    prop_oneof![
        // Uniform values, and saturated ones that push accumulators to their bounds.
        proptest::collection::vec(any::<i8>(), N),
        proptest::collection::vec(prop_oneof![Just(-128i8), Just(127i8)], N),
    ]
    .prop_map(|v| v.try_into().unwrap_or([0; N]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn digits_esppq_and_its_gemm_override(q in int8_array::<{ digits_esppq::INPUT_LEN }>()) {
        let built_in = check_module!(digits_esppq, q);
        let overridden = check_module!(digits_esppq_gemm_override, q);
        prop_assert_eq!(built_in, overridden);
    }

    #[test]
    fn digits_esppq_and_its_weights_file_form(q in int8_array::<{ digits_esppq::INPUT_LEN }>()) {
        let inline = check_module!(digits_esppq, q);
        let from_file = check_module!(digits_esppq_weights_file, q);
        prop_assert_eq!(inline, from_file);
    }
}
