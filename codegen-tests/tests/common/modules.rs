//! Every module build.rs generated, op fixtures and whole models, as a table (written by
//! build.rs, so that a new fixture is picked up with no hand-kept list), with slice-based
//! `run` and `predict` so that one test loop can drive any module.

// Each test file uses a different part of the table.
#![allow(dead_code)]

use codegen_tests::*;

/// One input or output of a module.
pub struct Port {
    pub len: usize,
    /// `real = q * 2^exponent` (0 for an f32 port).
    pub exponent: i32,
    /// The element type of `run`'s array: `"i8"`, `"i16"` or `"f32"`.
    pub ty: &'static str,
}

impl Port {
    /// The integer range of the port's type.
    pub fn range(&self) -> (i32, i32) {
        match self.ty {
            "i8" => (i8::MIN as i32, i8::MAX as i32),
            "i16" => (i16::MIN as i32, i16::MAX as i32),
            other => panic!("no integer range for {other}"),
        }
    }
}

/// One generated module.
pub struct Module {
    pub name: &'static str,
    /// The recording its model was run on, for [`crate::common::load`] (e.g. `ops/neg`).
    pub recording: &'static str,
    /// Multiply-accumulates per inference (the header's figure).
    pub macs: u64,
    pub inputs: &'static [Port],
    pub outputs: &'static [Port],
    /// `run` on integer inputs (each within its port's type), outputs as f64.
    pub run: fn(&[&[i32]], &mut [&mut [f64]]),
    /// `predict` on real inputs, outputs as f64.
    pub predict: fn(&[&[f32]], &mut [&mut [f64]]),
}

impl Module {
    pub fn is_op_fixture(&self) -> bool {
        self.recording.starts_with("ops/")
    }

    /// An LSTM or GRU fixture of `models/recurrent/`.
    pub fn is_recurrent_fixture(&self) -> bool {
        self.recording.starts_with("recurrent/")
    }
}

include!(concat!(env!("OUT_DIR"), "/module_table.rs"));
