//! The float reference: tract runs an ONNX model (QDQ nodes included) in f32. `inspect` runs
//! the original model and the rewritten one side by side to measure what the rewrite costs.

use crate::error::{Error, Result};
#[cfg(feature = "reference")]
use std::sync::Arc;
#[cfg(feature = "reference")]
use tract_onnx::prelude::*;

/// What kind of tensor the reference computed: real values, or a QuantizeLinear's integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Float,
    /// Integers in the quantized domain (int8, int16).
    Integer,
    /// A uint8 QuantizeLinear's output: onnx2esp's int8 plus 128.
    Unsigned8,
}

#[cfg(feature = "reference")]
pub struct FloatReference {
    plan: Arc<TypedRunnableModel>,
    input_len: usize,
}

#[cfg(feature = "reference")]
impl FloatReference {
    /// Loads `onnx` with its first input fixed to `input_shape`. The model is only typed, not
    /// optimised, so that tract evaluates each Q/DQ node as written rather than fusing them
    /// into integer kernels of its own.
    pub fn new(onnx: &[u8], input_shape: &[usize], what: &str) -> Result<FloatReference> {
        Self::load(onnx, input_shape, None, what)
    }

    /// Loads `onnx` as [`FloatReference::new`] does, with the tensors `names` as its outputs
    /// instead of the model's own (intermediate tensors included), for
    /// [`FloatReference::run_all`]. Names the model lacks are an error naming them.
    pub fn with_outputs(
        onnx: &[u8],
        input_shape: &[usize],
        names: &[String],
        what: &str,
    ) -> Result<FloatReference> {
        Self::load(onnx, input_shape, Some(names), what)
    }

    fn load(
        onnx: &[u8],
        input_shape: &[usize],
        outputs: Option<&[String]>,
        what: &str,
    ) -> Result<FloatReference> {
        let fail = |e: TractError| Error::Model(format!("tract cannot run the {what}: {e:#}"));
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &onnx[..])
            .and_then(|m| m.with_input_fact(0, f32::fact(input_shape).into()))
            .and_then(|m| match outputs {
                Some(names) => m.with_outputs_by_name(names),
                None => Ok(m),
            })
            .and_then(|m| m.into_typed())
            .and_then(|m| m.into_runnable())
            .map_err(fail)?;
        Ok(FloatReference {
            plan,
            input_len: input_shape.iter().product(),
        })
    }

    /// Every output for one input, flattened, as f64, each with the kind of tensor tract
    /// computed.
    pub fn run_all(&self, input: &[f32], shape: &[usize]) -> Result<Vec<(Vec<f64>, Kind)>> {
        debug_assert_eq!(input.len(), self.input_len);
        let tensor = Tensor::from_shape(shape, input)
            .map_err(|e| Error::Model(format!("reference input: {e:#}")))?;
        let outputs = self
            .plan
            .run(tvec!(tensor.into()))
            .map_err(|e| Error::Model(format!("tract failed to run the model: {e:#}")))?;
        outputs
            .iter()
            .map(|output| {
                let kind = match output.datum_type() {
                    DatumType::U8 => Kind::Unsigned8,
                    t if t.is_float() => Kind::Float,
                    _ => Kind::Integer,
                };
                let values = output
                    .cast_to::<f64>()
                    .map_err(|e| Error::Model(format!("reference output: {e:#}")))?;
                let view = values
                    .to_plain_array_view::<f64>()
                    .map_err(|e| Error::Model(format!("reference output: {e:#}")))?;
                Ok((view.iter().copied().collect(), kind))
            })
            .collect()
    }

    /// The first output, flattened, for one input.
    pub fn run(&self, input: &[f32], shape: &[usize]) -> Result<Vec<f32>> {
        let outputs = self.run_all(input, shape)?;
        let (first, _) = outputs
            .into_iter()
            .next()
            .ok_or_else(|| Error::Model("the reference model has no output".into()))?;
        // Every value was an f32 or an integer of at most 16 bits: exact back in f32.
        Ok(first.into_iter().map(|v| v as f32).collect())
    }
}

/// Without the `reference` feature there is no float engine: `inspect` reports everything but
/// the end-to-end effect, and says why. No value of this type exists.
#[cfg(not(feature = "reference"))]
pub struct FloatReference(std::convert::Infallible);

#[cfg(not(feature = "reference"))]
impl FloatReference {
    pub fn new(_onnx: &[u8], _input_shape: &[usize], what: &str) -> Result<FloatReference> {
        Err(Error::Model(format!(
            "the {what} cannot be run: onnx2esp was built without its `reference` feature \
             (tract's float engine)"
        )))
    }

    pub fn with_outputs(
        _onnx: &[u8],
        _input_shape: &[usize],
        _names: &[String],
        what: &str,
    ) -> Result<FloatReference> {
        Self::new(_onnx, _input_shape, what)
    }

    pub fn run(&self, _input: &[f32], _shape: &[usize]) -> Result<Vec<f32>> {
        match self.0 {}
    }

    pub fn run_all(&self, _input: &[f32], _shape: &[usize]) -> Result<Vec<(Vec<f64>, Kind)>> {
        match self.0 {}
    }
}

#[cfg(all(test, feature = "reference"))]
mod tests {
    use super::*;

    /// tract stands in for the rewritten integer pipeline in `inspect`. That holds because on a
    /// power-of-two QDQ model its float execution equals ONNX Runtime's, which the generated
    /// code matches bit for bit (codegen-tests/tests/exactness.rs).
    #[test]
    fn tract_agrees_with_onnx_runtime_on_a_power_of_two_model() {
        let root = env!("CARGO_MANIFEST_DIR");
        let recording: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{root}/codegen-tests/models/digits_esppq.expected.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let model =
            std::fs::read(format!("{root}/codegen-tests/models/digits_esppq.onnx")).unwrap();
        let shape = [1, 1, 8, 8];
        let reference = FloatReference::new(&model, &shape, "model").unwrap();
        let floats = |v: &serde_json::Value| -> Vec<f32> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        };
        let inputs = recording["inputs"].as_array().unwrap();
        let outputs = recording["outputs"].as_array().unwrap();
        let (mut equal, mut total) = (0, 0);
        for (input, expected) in inputs.iter().zip(outputs) {
            let got = reference.run(&floats(input), &shape).unwrap();
            let expected = floats(expected);
            total += expected.len();
            equal += got.iter().zip(&expected).filter(|(a, b)| a == b).count();
        }
        println!("tract vs ONNX Runtime on digits_esppq: {equal}/{total} elements equal");
        assert_eq!(equal, total);
    }
}
