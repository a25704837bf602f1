//! The requantization shifts of an accumulating layer's output channels.

use super::KernelEmit;

/// The requantization shifts `ey - ex - ew[c]` of an accumulating layer's output channels:
/// all equal for per-tensor weights, one per channel for per-channel weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shifts(Vec<i32>, Vec<i32>);

impl Shifts {
    pub fn new(output_exponent: i32, acc_exponents: &[i32]) -> Shifts {
        Shifts(
            acc_exponents.iter().map(|e| output_exponent - e).collect(),
            Vec::new(),
        )
    }

    /// These shifts with each channel's float-bias fraction (see
    /// [`crate::quant::float_bias::fraction`]; none when empty), for a layer requantized by
    /// `requantize_f32_sum_*`: [`Shifts::set`] then passes each channel's step
    /// `fraction << 5 | shift` (shifts are 1..=31, fractions below 2^25).
    pub fn with_f32_sum_fractions(self, fractions: Vec<i32>) -> Shifts {
        Shifts(self.0, fractions)
    }

    /// The one shift of every channel, if they agree.
    pub fn uniform(&self) -> Option<i32> {
        let first = *self.0.first()?;
        self.0.iter().all(|&s| s == first).then_some(first)
    }

    /// These shifts, when they differ between channels.
    pub fn per_channel(&self) -> Option<&Shifts> {
        self.uniform().is_none().then_some(self)
    }

    /// The shift of each channel.
    pub fn values(&self) -> &[i32] {
        &self.0
    }

    /// Template variables: `shift`, a literal when the channels agree. Otherwise `shifts`
    /// names an `[i8; C]` static that the template zips with its output channels, binding
    /// `shift`, and `shift` is `i32::from(*shift)`. Clamping to the i8 range changes nothing: the
    /// requantize helpers cap shifts at 63 and -32 themselves.
    pub fn set(&self, out: &mut KernelEmit) {
        if !self.1.is_empty() {
            let steps = self.0.iter().zip(&self.1);
            let values = steps.map(|(&s, &f)| (i64::from(f) << 5) | i64::from(s & 31));
            let name = out.add_static("STEPS", super::Elem::I32, &[self.0.len()], values.collect());
            out.set("shifts", name);
            out.set("shift", "*shift");
            return;
        }
        match self.uniform() {
            Some(shift) => out.set("shift", shift),
            None => {
                let values = self.0.iter().map(|&s| s.clamp(-128, 127) as i64).collect();
                let name = out.add_static("SHIFTS", super::Elem::I8, &[self.0.len()], values);
                out.set("shifts", name);
                out.set("shift", "i32::from(*shift)");
            }
        }
    }

    /// `shift 7`, or `shifts 5..9 per channel`, for the layer's doc comment.
    pub fn describe(&self) -> String {
        match self.uniform() {
            Some(shift) => format!("shift {shift}"),
            None => format!("shifts {} per channel", self.range()),
        }
    }

    /// `min..max` of the shifts.
    pub fn range(&self) -> String {
        let (lo, hi) = (self.0.iter().min(), self.0.iter().max());
        format!("{}..{}", lo.unwrap_or(&0), hi.unwrap_or(&0))
    }
}
