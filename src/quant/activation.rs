//! The sigmoid and tanh of the recurrent layers (docs/numerics.md, "LSTM and GRU"): Q24 values
//! (`2^24` = 1.0), linear between 1025 table entries `f(k * step)`, k in 0..=1024 (sigmoid:
//! steps of 1/64 up to 16; tanh: 1/128 up to 8), with the symmetries of each function for
//! negative inputs (`activation_q24` in the runtime helpers).

use super::runtime::{sigmoid_q24, tanh_q24};

/// Entries of each table.
pub const ENTRIES: usize = 1025;

/// The Q24 scale.
pub const ONE: f64 = (1u64 << 24) as f64;

/// The two functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Sigmoid,
    Tanh,
}

impl Activation {
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
        }
    }

    /// The input step between table entries, as a power of two: 2^-6 (sigmoid), 2^-7 (tanh),
    /// whose second derivative is larger; `activation_q24`'s `BITS` is `24 + this`.
    pub fn step_exponent(self) -> i32 {
        match self {
            Activation::Sigmoid => -6,
            Activation::Tanh => -7,
        }
    }

    /// The table the runtime helper interpolates: `round(f(k * step) * 2^24)`.
    pub fn table(self) -> Vec<i64> {
        let step = 2f64.powi(self.step_exponent());
        (0..ENTRIES)
            .map(|k| (self.eval(k as f64 * step) * ONE).round() as i64)
            .collect()
    }

    fn run(self, z: i32, table: &[i32; ENTRIES]) -> i32 {
        match self {
            Activation::Sigmoid => sigmoid_q24(z, table),
            Activation::Tanh => tanh_q24(z, table),
        }
    }

    /// The largest `|activation_q24(z) - f(z * 2^-24)|`, in units of 2^-24, over 64 inputs in
    /// every segment of the table, both signs and past its end (where f is within 2^-23 of its
    /// limit). Linear interpolation errs most mid-segment, where these samples are dense.
    /// Measured once per process (every recurrent layer states it).
    pub fn max_error(self) -> f64 {
        static SIGMOID: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
        static TANH: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
        let cell = match self {
            Activation::Sigmoid => &SIGMOID,
            Activation::Tanh => &TANH,
        };
        *cell.get_or_init(|| self.measure_error())
    }

    fn measure_error(self) -> f64 {
        let table: Vec<i32> = self.table().iter().map(|&v| v as i32).collect();
        let table: &[i32; ENTRIES] = table.as_slice().try_into().expect("ENTRIES values");
        // 64 samples per segment.
        let step = 1i64 << (24 + self.step_exponent() - 6);
        let mut worst: f64 = 0.0;
        let mut z: i64 = 0;
        while z <= 17 << 24 {
            for signed in [z, -z] {
                let got = self.run(signed as i32, table) as f64;
                let want = self.eval(signed as f64 / ONE) * ONE;
                worst = worst.max((got - want).abs());
            }
            z += step + 1; // not only multiples of the step: every phase of the fraction
        }
        worst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound docs/numerics.md states, in units of 2^-24: 50 for sigmoid and 100 for tanh
    /// (3.0e-6 and 6.0e-6), a fifth of one step of the Q15 hidden state (2^9 units).
    #[test]
    fn interpolation_error_is_within_the_documented_bound() {
        let (sigmoid, tanh) = (
            Activation::Sigmoid.max_error(),
            Activation::Tanh.max_error(),
        );
        println!("max error in 2^-24 units: sigmoid {sigmoid:.1}, tanh {tanh:.1}");
        assert!(sigmoid <= 50.0, "sigmoid {sigmoid}");
        assert!(tanh <= 100.0, "tanh {tanh}");
    }

    #[test]
    fn symmetric_and_saturating() {
        let table: Vec<i32> = Activation::Tanh.table().iter().map(|&v| v as i32).collect();
        let table: &[i32; ENTRIES] = table.as_slice().try_into().unwrap();
        for z in [0, 1, 12345, 1 << 20, 5 << 24, i32::MAX] {
            assert_eq!(tanh_q24(-z, table), -tanh_q24(z, table));
        }
        assert_eq!(tanh_q24(i32::MIN, table), -table[1024]);
        let sig: Vec<i32> = Activation::Sigmoid
            .table()
            .iter()
            .map(|&v| v as i32)
            .collect();
        let sig: &[i32; ENTRIES] = sig.as_slice().try_into().unwrap();
        assert_eq!(sigmoid_q24(0, sig), 1 << 23);
        assert_eq!(
            sigmoid_q24(i32::MAX, sig) + sigmoid_q24(-i32::MAX, sig),
            1 << 24
        );
    }
}
