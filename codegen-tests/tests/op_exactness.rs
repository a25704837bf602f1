//! Every single-op fixture of `models/ops/` against its ONNX Runtime recording, element by
//! element. The fixtures and their table come from build.rs, so a new fixture needs no
//! Rust. Run with `--nocapture` to see the figures.

mod common;
#[path = "common/modules.rs"]
mod modules;

use modules::MODULES;

/// Every fixture must equal ONNX Runtime element for element, table ops included.
///
/// A table op (docs/numerics.md: `T[q+128] = sat(round_half_even(f(q * 2^ex) * 2^-ey))`, f in f64)
/// could legitimately differ where ONNX Runtime's f32 value of f lands on the other side of
/// a rounding boundary than the f64 one: only a table entry whose f64 value lies within a
/// few f32 ULP of a tie `(n + 1/2) * 2^ey`. Every recorded element of every fixture agrees
/// bit for bit, so no such exception exists. Should a new fixture need one, it must name that
/// fixture's exact elements and the entry's distance to the tie, never a share of elements.
#[test]
fn every_op_fixture_matches_onnx_runtime() {
    let fixtures: Vec<_> = MODULES
        .iter()
        .filter(|m| {
            m.is_op_fixture()
                && !INTERPOLATED.contains(&m.name)
                && !WITHIN_ONE_LSB.contains(&m.name)
        })
        .collect();
    assert!(
        !fixtures.is_empty(),
        "build.rs found no models/ops fixtures"
    );
    let failures = off_fixtures(fixtures, |a| a.exact_elements == a.elements);
    assert!(
        failures.is_empty(),
        "fixtures off:\n{}",
        failures.join("\n")
    );
}

/// The int16 fixtures of smooth unary ops, which read an interpolated table
/// (docs/numerics.md, "Unary ops on int16") and so cannot be exact everywhere.
const INTERPOLATED: &[&str] = &[
    "int16_elu",
    "int16_erf",
    "int16_exp",
    "int16_gelu",
    "int16_hard_swish",
    "int16_in_place_chain",
    "int16_log",
    "int16_pow",
    "int16_sigmoid",
    "int16_softplus",
    "int16_sqrt",
    "int16_swish",
    "int16_tanh",
    "int16_tanh_to_int8",
];

/// The interpolated fixtures are within 2 LSB of ONNX Runtime on every element: the generator
/// proves the table within 1 step of `round(f)` with f in f64 (it evaluates the kernel on all
/// 65,536 inputs), and ONNX Runtime's f32 f may round to the other neighbour of a tie, one
/// more step, as int8 tables could.
#[test]
fn interpolated_int16_tables_are_within_two_lsb_of_onnx_runtime() {
    let fixtures: Vec<_> = MODULES
        .iter()
        .filter(|m| INTERPOLATED.contains(&m.name))
        .collect();
    assert_eq!(
        fixtures.len(),
        INTERPOLATED.len(),
        "a fixture of INTERPOLATED is missing"
    );
    let failures = off_fixtures(fixtures, |a| a.max_lsb <= 2.0);
    assert!(
        failures.is_empty(),
        "fixtures beyond 2 LSB:\n{}",
        failures.join("\n")
    );
}

/// int16 fixtures whose kernels cannot round exactly as ONNX Runtime's f32 everywhere, though
/// they stay within a quarter step of the exact value, so that an element can only land on
/// the other side of a tie from ONNX Runtime's: 1 LSB.
/// - Softmax and LogSoftmax with an int16 input or output: exp in Q30 fixed point, the error
///   proven below a quarter step at codegen (ONNX Runtime's own f32 exp is an approximation).
/// - LayerNormalization and RMSNormalization of an int16 input: the squares (up to 2^30)
///   round in f32, in an order ONNX Runtime does not fix; at most 64 elements (the lowering's
///   limit) keep the sums' relative error below 2^-18, under 2^-4 of a step for outputs
///   within the int16 range.
/// - ReduceSumSquare and ReduceL2 of an int16 input over 256 elements (the lowering's limit):
///   ONNX Runtime rounds the squares and their sum in f32, within about `256 * 2^-24` of the
///   exact sum relatively, half a step for outputs within the int16 range (a quarter for L2).
///   The other int16 Reduce fixtures are exact and stay in the exact test.
const WITHIN_ONE_LSB: &[&str] = &[
    "int16_softmax",
    "int16_softmax_channels",
    "int16_log_softmax",
    "int8_softmax_to_int16",
    "int16_layer_norm",
    "int16_layer_norm_to_int8",
    "int16_rms_norm",
    "int16_reduce_sum_square_256",
    "int16_reduce_l2_256",
];

#[test]
fn int16_softmax_normalizations_and_squares_are_within_one_lsb_of_onnx_runtime() {
    let fixtures: Vec<_> = MODULES
        .iter()
        .filter(|m| WITHIN_ONE_LSB.contains(&m.name))
        .collect();
    assert_eq!(
        fixtures.len(),
        WITHIN_ONE_LSB.len(),
        "a fixture of WITHIN_ONE_LSB is missing"
    );
    let failures = off_fixtures(fixtures, |a| a.max_lsb <= 1.0);
    assert!(
        failures.is_empty(),
        "fixtures beyond 1 LSB:\n{}",
        failures.join("\n")
    );
}

/// The fixtures whose agreement with their recording fails `good`, with their figures.
fn off_fixtures(
    fixtures: Vec<&modules::Module>,
    good: impl Fn(&common::Agreement) -> bool,
) -> Vec<String> {
    let mut failures = Vec::new();
    for fixture in fixtures {
        let lens: Vec<usize> = fixture.inputs.iter().map(|p| p.len).collect();
        let output = &fixture.outputs[0];
        let agreement = common::fixture_agreement(
            fixture.name,
            fixture.recording,
            &lens,
            (output.len, output.exponent),
            fixture.predict,
        );
        if !good(&agreement) {
            failures.push(format!("{}: {agreement:?}", fixture.name));
        }
    }
    failures
}
