//! The Relu/Clip bounds a layer applies to its output: in real values while lowering fuses
//! them, then in the output's integer domain.

use super::KernelEmit;
use crate::quant::{QType, Rounding};

/// Bounds fused from Relu/Clip, in real values; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RealBounds {
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl RealBounds {
    /// Intersects with another bound (Relu after Clip and so on).
    pub fn and(self, other: RealBounds) -> RealBounds {
        let pick = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        RealBounds {
            lo: pick(self.lo, other.lo, f64::max),
            hi: pick(self.hi, other.hi, f64::min),
        }
    }

    /// The bounds in the int8 domain of exponent `e`. Quantization is monotone (in either
    /// rounding mode), so clamping after it equals clipping before it.
    pub fn to_int8(self, exponent: i32, rounding: Rounding) -> Clamp {
        self.to_domain(exponent, QType::I8, rounding)
    }

    /// The bounds in the integer domain of exponent `e` and type `dtype`.
    pub fn to_domain(self, exponent: i32, dtype: QType, rounding: Rounding) -> Clamp {
        let q = |v: f64| crate::quant::quantize_real_to(v, exponent, dtype, rounding);
        let (min, max) = dtype.range();
        Clamp {
            lo: self.lo.map_or(min, q),
            hi: self.hi.map_or(max, q),
            dtype,
        }
    }
}

/// A clamp in an output's integer domain; the type's full range means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamp {
    pub lo: i64,
    pub hi: i64,
    pub dtype: QType,
}

impl Clamp {
    pub const NONE: Clamp = Clamp {
        lo: -128,
        hi: 127,
        dtype: QType::I8,
    };

    pub fn none(dtype: QType) -> Clamp {
        let (lo, hi) = dtype.range();
        Clamp { lo, hi, dtype }
    }

    pub fn is_none(self) -> bool {
        (self.lo, self.hi) == self.dtype.range()
    }

    /// The bounds as int8, for kernels that only produce int8.
    pub fn int8(self) -> (i8, i8) {
        let narrow = |v: i64| v.clamp(-128, 127) as i8;
        (narrow(self.lo), narrow(self.hi))
    }

    /// Template variables: `clamp_lo` / `clamp_hi`, absent when there is no clamp, and
    /// `clamp`, the method call to append to an output expression (`.clamp(0, 6)`, `.max(0)`,
    /// or nothing), with no side that saturation to the output type already gives.
    pub fn set(self, out: &mut KernelEmit) {
        if !self.is_none() {
            out.set("clamp_lo", self.lo);
            out.set("clamp_hi", self.hi);
        }
        let (min, max) = self.dtype.range();
        let call = match (self.lo > min, self.hi < max) {
            // Ord::clamp asserts lo <= hi; a Clip with min > max (ONNX: the result is max)
            // keeps the two calls, which never panic.
            (true, true) if self.lo <= self.hi => format!(".clamp({}, {})", self.lo, self.hi),
            (true, true) => format!(".max({}).min({})", self.lo, self.hi),
            (true, false) => format!(".max({})", self.lo),
            (false, true) => format!(".min({})", self.hi),
            (false, false) => String::new(),
        };
        out.set("clamp", call);
    }
}
