//! Every fixture's generated module on random int8 inputs, in this debug build (overflow
//! checks on): no input may panic, and `predict` must agree with `run` (a second path through
//! the same module: quantize, run, dequantize). The Gemm override must agree with the built-in
//! kernel on every input, not only on the recorded ones, and so must the module that reads its
//! weights from a weights file with the one that has them inline.

use codegen_tests::*;
use proptest::prelude::*;

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

    #[test]
    fn digits_swish(q in int8_array::<{ digits_swish::INPUT_LEN }>()) {
        check_module!(digits_swish, q);
    }

    #[test]
    fn digits_ptq(q in int8_array::<{ digits_ptq::INPUT_LEN }>()) {
        check_module!(digits_ptq, q);
    }

    /// The snapped ONNX Runtime models: requantized weights and biases, inserted clips.
    #[test]
    fn snapped_onnx_runtime_models(q in int8_array::<{ digits_ort_qdq_snap::INPUT_LEN }>()) {
        check_module!(digits_ort_qdq_snap, q);
        check_module!(digits_ort_qdq_ceil, q);
        check_module!(digits_ort_uint8_snap, q);
    }

    #[test]
    fn swish_layer(q in int8_array::<{ swish_layer::INPUT_LEN }>()) {
        check_module!(swish_layer, q);
    }
}

proptest! {
    // Fewer cases: one case is two inferences of 17.6 M MACs in this debug build.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn mobilenet_v2_esppq(q in int8_array::<{ mobilenet_v2_esppq::INPUT_LEN }>()) {
        check_module!(mobilenet_v2_esppq, q);
    }
}
