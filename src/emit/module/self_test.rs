//! `Model::self_test`: runs the samples embedded with `--embed-tests` and compares every output
//! element with the reference's, like ESP-DL's `model.test()` but exact.

use super::ports::PortItems;
use crate::emit::SelfTestSamples;
use crate::kernel::{Elem, StaticArray};
use proc_macro2::TokenStream;
use quote::quote;

/// `SELF_TEST_SAMPLES`, `Mismatch` and `Model::self_test`, for a model of one int8 input and
/// one int8 output (the samples are checked to be so when they are read). With recurrent
/// state, each sample is a sequence of its own: the state is reset before it.
pub(super) fn items(inputs: &[PortItems], outputs: &[PortItems], stateful: bool) -> TokenStream {
    let (Some(input), Some(output)) = (inputs.first(), outputs.first()) else {
        return TokenStream::new();
    };
    let (input_len, out_len) = (&input.len, &output.len);
    let reset = stateful.then(|| quote!(self.reset_state();));
    quote! {
        /// The first output element where [`Model::self_test`] disagrees with the reference:
        /// the sample, the element (in the ONNX layout) and both values, as integers at
        /// the output's exponent.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct Mismatch {
            pub sample: usize,
            pub element: usize,
            pub expected: i32,
            pub actual: i32,
        }

        impl Model {
            /// Runs the embedded samples (`--embed-tests`) and compares every output element
            /// with the reference's; the first difference is the error. Uses the model's arena,
            /// like `run`.
            pub fn self_test(&mut self) -> Result<(), Mismatch> {
                let samples = SELF_TEST_INPUTS.0.iter().zip(SELF_TEST_OUTPUTS.0.iter());
                for (sample, (input, expected)) in samples.enumerate() {
                    let input: &[i8; #input_len] = input;
                    let mut output = [0i8; #out_len];
                    #reset
                    self.run(input, &mut output);
                    for (element, (&expected, &actual)) in
                        expected.iter().zip(output.iter()).enumerate()
                    {
                        if expected != actual {
                            return Err(Mismatch {
                                sample,
                                element,
                                expected: i32::from(expected),
                                actual: i32::from(actual),
                            });
                        }
                    }
                }
                Ok(())
            }
        }

        /// How many samples [`Model::self_test`] runs.
        pub const SELF_TEST_SAMPLES: usize = SELF_TEST_INPUTS.0.len();
    }
}

/// The two statics `self_test` reads: `SELF_TEST_INPUTS` (`[N][INPUT_LEN]`) and
/// `SELF_TEST_OUTPUTS` (`[N][OUTPUT_LEN]`).
pub fn self_test_statics(samples: &SelfTestSamples) -> Vec<StaticArray> {
    [
        ("SELF_TEST_INPUTS", &samples.inputs),
        ("SELF_TEST_OUTPUTS", &samples.outputs),
    ]
    .into_iter()
    .map(|(name, rows)| StaticArray {
        name: name.to_string(),
        elem: Elem::I8,
        dims: vec![rows.len(), rows.first().map_or(0, Vec::len)],
        values: rows.iter().flatten().copied().collect(),
    })
    .collect()
}
