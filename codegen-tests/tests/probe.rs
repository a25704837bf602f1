//! `Model::run_with` and its `LayerProbe`: the probe sees every layer once, in order, under its
//! node's name, before and after it runs; the traced run gives `run`'s outputs; and each
//! output it shows is the layer's real output, checked against an independent computation
//! (the max pool recomputed from the convolution's output, and the last layer's output against
//! the model's).

mod common;

use codegen_tests::digits_qat::{self, LayerOutput, LayerProbe};

/// Records what the probe is shown.
#[derive(Default)]
struct Trace {
    events: Vec<String>,
    outputs: Vec<Vec<i8>>,
}

impl LayerProbe for Trace {
    fn before(&mut self, index: usize, name: &str) {
        self.events.push(format!("before {index} {name}"));
    }

    fn after(&mut self, index: usize, name: &str, output: LayerOutput<'_>) {
        self.events.push(format!("after {index} {name}"));
        match output {
            LayerOutput::I8(values) => self.outputs.push(values.to_vec()),
            LayerOutput::I16(_) => panic!("digits_qat has no int16 layer"),
        }
    }
}

/// The int8 inputs of the recording, quantized as `predict` does.
fn quantized_inputs() -> Vec<[i8; digits_qat::INPUT_LEN]> {
    let recording = common::load("digits_qat");
    let scale = 2f32.powi(-digits_qat::INPUT_EXPONENT);
    recording
        .inputs
        .iter()
        .map(|x| {
            let mut q = [0i8; digits_qat::INPUT_LEN];
            for (q, &x) in q.iter_mut().zip(x) {
                *q = (x * scale).round_ties_even().clamp(-128.0, 127.0) as i8;
            }
            q
        })
        .collect()
}

#[test]
fn the_probe_sees_each_layer_in_order_with_its_node_name() {
    let input = quantized_inputs()[0];
    let mut model = digits_qat::Model::new();
    let mut trace = Trace::default();
    let mut output = [0i8; digits_qat::OUTPUT_LEN];
    model.run_with(&mut trace, &input, &mut output);
    assert_eq!(
        trace.events,
        [
            "before 0 /conv/Conv",
            "after 0 /conv/Conv",
            "before 1 /pool/MaxPool",
            "after 1 /pool/MaxPool",
            "before 2 /fc/Gemm",
            "after 2 /fc/Gemm",
        ]
    );
    // The output lengths of the header's table: [1, 8, 8, 8], [1, 8, 4, 4], [1, 10].
    let lengths: Vec<usize> = trace.outputs.iter().map(Vec::len).collect();
    assert_eq!(lengths, [512, 128, 10]);
}

#[test]
fn traced_outputs_are_the_layers_real_outputs() {
    let mut model = digits_qat::Model::new();
    for (sample, input) in quantized_inputs().iter().enumerate() {
        let mut plain = [0i8; digits_qat::OUTPUT_LEN];
        model.run(input, &mut plain);
        let mut traced = [0i8; digits_qat::OUTPUT_LEN];
        let mut trace = Trace::default();
        model.run_with(&mut trace, input, &mut traced);
        assert_eq!(traced, plain, "sample {sample}: run_with differs from run");
        let [conv, pool, gemm] = &trace.outputs[..] else {
            panic!("three layers expected");
        };
        assert_eq!(
            gemm[..],
            plain[..],
            "sample {sample}: the last layer's output"
        );
        // MaxPool 2x2, stride 2, over the conv's [8, 8, 8] output: recomputed here.
        for c in 0..8 {
            for y in 0..4 {
                for x in 0..4 {
                    let window = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .map(|(dy, dx)| conv[c * 64 + (2 * y + dy) * 8 + 2 * x + dx]);
                    let expected = window.into_iter().max().unwrap();
                    assert_eq!(
                        pool[c * 16 + y * 4 + x],
                        expected,
                        "sample {sample}: pool output ({c}, {y}, {x})"
                    );
                }
            }
        }
    }
}
