//! What the `cargo xtask` commands share with the test suite: the panic-path check of
//! generated modules (`cargo xtask panic-check`, and codegen-tests' `no_std_targets`), and
//! the Xtensa build steps it shares with codegen-tests' Xtensa runner test.

pub mod panic_check;
pub mod xtensa;
