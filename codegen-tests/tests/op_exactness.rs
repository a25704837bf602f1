//! Every single-op fixture of `models/ops/` against its ONNX Runtime recording, element by
//! element. The fixtures and the table below come from build.rs, so a new fixture needs no
//! Rust. Run with `--nocapture` to see the figures.

mod common;

use codegen_tests::ops;

/// One generated op fixture, as listed by build.rs.
pub struct OpFixture {
    pub name: &'static str,
    pub input_lens: &'static [usize],
    pub output_len: usize,
    pub output_exponent: i32,
    pub predict: fn(&[&[f32]], &mut [f32]),
}

include!(concat!(env!("OUT_DIR"), "/op_fixture_table.rs"));

/// Table ops (DESIGN.md: `T[q+128] = sat(round_half_even(f(q * 2^ex) * 2^-ey))`, f in f64).
/// ONNX Runtime evaluates f in f32, with its own approximations of exp/tanh/erf (a few ULP).
/// Before the output rounding, its value can therefore sit on the other side of a rounding
/// boundary `(n + 1/2) * 2^ey` than the f64 value, which moves that output by exactly one step.
/// That needs the true value within a few f32 ULP of a boundary: with ~256 distinct table
/// entries per op, we allow at most 1 LSB anywhere and at most 2% of elements off by one (a
/// handful of table entries, repeated across the samples that hit them). Softmax shares the
/// argument: its exp table is f64 rounded to Q24, ONNX Runtime's exp is an f32 approximation.
/// ReduceLogSum's ln table is f64, ReduceLogSumExp's exps are Softmax's Q24 table and its ln
/// f64, where ONNX Runtime uses f32 exp and log: the same one-step argument. LogSoftmax is
/// Softmax's table and sum followed by an f64 ln, quantized from f32: the same again.
/// QLinearSigmoid is ONNX Runtime's table of its own f32 Sigmoid: the same as Sigmoid.
const TABLE_FIXTURES: &[&str] = &[
    "elu",
    "erf",
    "exp",
    "gelu",
    "hard_sigmoid",
    "hard_swish",
    "log",
    "log_softmax_channels",
    "log_softmax_last_axis",
    "pow_cube",
    "pow_square",
    "qlinear_sigmoid",
    "reduce_l2",
    "reduce_log_sum",
    "reduce_log_sum_exp",
    "softplus",
    "sigmoid",
    "softmax_channels",
    "softmax_last_axis",
    "sqrt",
    "swish_fused",
    "tanh",
];
const TABLE_MAX_ONE_LSB_FRACTION: f64 = 0.02;

#[test]
fn every_op_fixture_matches_onnx_runtime() {
    assert!(
        !OP_FIXTURES.is_empty(),
        "build.rs found no models/ops fixtures"
    );
    let mut failures = Vec::new();
    for fixture in OP_FIXTURES {
        let recording = common::load(&format!("ops/{}", fixture.name));
        let agreement = common::compare(
            &recording,
            fixture.output_exponent,
            |x, y| {
                // The recording stores several inputs one after another, in graph order.
                let mut rest = x;
                let inputs: Vec<&[f32]> = fixture
                    .input_lens
                    .iter()
                    .map(|&len| {
                        let (input, tail) = rest.split_at(len);
                        rest = tail;
                        input
                    })
                    .collect();
                assert!(rest.is_empty(), "{}: recorded input too long", fixture.name);
                (fixture.predict)(&inputs, y)
            },
            fixture.output_len,
        );
        agreement.print_elements(fixture.name);
        let ok = if TABLE_FIXTURES.contains(&fixture.name) {
            let fraction = agreement.one_lsb_elements as f64 / agreement.elements as f64;
            agreement.max_lsb <= 1.0 && fraction <= TABLE_MAX_ONE_LSB_FRACTION
        } else {
            agreement.exact_elements == agreement.elements
        };
        if !ok {
            failures.push(format!("{}: {agreement:?}", fixture.name));
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures off:\n{}",
        failures.join("\n")
    );
}

/// A table-op entry must name a fixture that exists, so that the list cannot rot.
#[test]
fn table_fixture_names_exist() {
    for name in TABLE_FIXTURES {
        assert!(
            OP_FIXTURES.iter().any(|f| f.name == *name),
            "no fixture models/ops/{name}.onnx"
        );
    }
}
