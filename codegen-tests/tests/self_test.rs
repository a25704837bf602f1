//! `Model::self_test` (`generate --embed-tests`): the module with ONNX Runtime's recorded
//! samples passes, and the copy with one expected element a step off reports exactly that
//! sample, element and both values.

use codegen_tests::{digits_qat_self_test as good, digits_qat_self_test_corrupted as bad};

mod common;

#[test]
fn the_embedded_samples_pass() {
    assert_eq!(good::SELF_TEST_SAMPLES, 8);
    assert_eq!(good::Model::new().self_test(), Ok(()));
}

#[test]
fn a_corrupted_expected_output_is_reported_where_it_is() {
    // build.rs moved element 7 of sample 5 up by one output step.
    let recording = common::load("digits_qat");
    let step = 2f32.powi(bad::OUTPUT_EXPONENT);
    let actual = (recording.outputs[5][7] / step) as i32;
    let mismatch = bad::Model::new()
        .self_test()
        .expect_err("the corrupted sample");
    assert_eq!(
        mismatch,
        bad::Mismatch {
            sample: 5,
            element: 7,
            expected: actual + 1,
            actual,
        }
    );
}

#[test]
fn the_module_without_samples_has_no_self_test() {
    let code = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/digits_qat.rs"))
        .expect("the plain module");
    assert!(!code.contains("self_test") && !code.contains("SELF_TEST"));
}
