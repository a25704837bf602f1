//! The integer arithmetic of docs/numerics.md, with no knowledge of graphs or code: the
//! integer types, rounding, scale-to-exponent rules, accumulator bounds, float-bias
//! emulation, lookup-table values and the runtime helpers the generated module carries.

pub mod accumulator;
pub mod activation;
pub mod exponent;
pub mod expr;
pub mod float_bias;
pub mod interpolation;
pub mod runtime;
pub mod table;

/// The integer type of an activation tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QType {
    I8,
    I16,
}

impl QType {
    /// The Rust element type.
    pub fn rust(self) -> &'static str {
        match self {
            QType::I8 => "i8",
            QType::I16 => "i16",
        }
    }

    /// `int8` or `int16`, for comments and messages.
    pub fn name(self) -> &'static str {
        match self {
            QType::I8 => "int8",
            QType::I16 => "int16",
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            QType::I8 => 1,
            QType::I16 => 2,
        }
    }

    /// The largest `|q|`, the input range of accumulator bounds.
    pub fn magnitude(self) -> u64 {
        self.range().0.unsigned_abs()
    }

    /// The closed range of values, symmetric saturation as in ESP-DL.
    pub fn range(self) -> (i64, i64) {
        match self {
            QType::I8 => (-128, 127),
            QType::I16 => (-32768, 32767),
        }
    }
}

/// How the integer pipeline rounds a value that lies halfway between two integers: in the
/// runtime helpers (`templates/runtime.rs`: shifts, divisions, f32 quantization, including
/// `predict`'s input) and at codegen (tables, float biases, clamp bounds, pad values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rounding {
    /// Ties to even, as ONNX QuantizeLinear, ONNX Runtime and PyTorch round: bit-exact with them.
    #[default]
    HalfEven,
    /// Ties toward +infinity, `floor(x + 1/2)`: ESP-DL's ESP32-S3 kernels
    /// (`(acc + (1 << (s - 1))) >> s`) and ESP-PPQ's simulation of them.
    HalfUp,
}

impl Rounding {
    /// `x` rounded to an integer (exactly: `x - floor(x)` is exact in f64 for any `|x| < 2^52`).
    pub fn round(self, x: f64) -> f64 {
        match self {
            Rounding::HalfEven => x.round_ties_even(),
            Rounding::HalfUp => {
                let floor = x.floor();
                if x - floor >= 0.5 {
                    floor + 1.0
                } else {
                    floor
                }
            }
        }
    }

    /// The CLI spelling, also written in the generated module's header.
    pub fn name(self) -> &'static str {
        match self {
            Rounding::HalfEven => "half-even",
            Rounding::HalfUp => "half-up",
        }
    }
}

/// QuantizeLinear of a real value computed at codegen (tables, pad values, clamp bounds):
/// `round(y * 2^-e)` in the pipeline's rounding mode (ONNX Runtime: half to even), saturated
/// to int8, NaN to -128.
pub fn quantize_real(y: f64, exponent: i32, rounding: Rounding) -> i8 {
    quantize_real_to(y, exponent, QType::I8, rounding) as i8
}

/// [`quantize_real`] into the range of `dtype`.
pub fn quantize_real_to(y: f64, exponent: i32, dtype: QType, rounding: Rounding) -> i64 {
    let (lo, hi) = dtype.range();
    if y.is_nan() {
        return lo;
    }
    rounding
        .round(y * 2f64.powi(-exponent))
        .clamp(lo as f64, hi as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_follow_the_rounding_mode() {
        for (x, even, up) in [
            (2.5, 2.0, 3.0),
            (3.5, 4.0, 4.0),
            (-1.5, -2.0, -1.0),
            (-2.5, -2.0, -2.0),
            (0.5, 0.0, 1.0),
            (-0.5, 0.0, 0.0),
        ] {
            assert_eq!(Rounding::HalfEven.round(x), even, "{x}");
            assert_eq!(Rounding::HalfUp.round(x), up, "{x}");
        }
        // Not a tie: both round to nearest (x + 0.5 would round up to 1.0 in f64 here).
        assert_eq!(Rounding::HalfUp.round(0.49999999999999994), 0.0);
        assert_eq!(Rounding::HalfUp.round(-2.6), -3.0);
        assert_eq!(quantize_real(-0.75, -1, Rounding::HalfUp), -1);
        assert_eq!(quantize_real(-0.75, -1, Rounding::HalfEven), -2);
    }
}
