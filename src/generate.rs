//! Generation from a model held in memory: the module as a string, or the module and its
//! weights file as bytes to write ([`crate::Builder`] writes them).

use crate::emit;
use crate::error::Result;
use crate::options::Options;
use crate::pipeline::{self, Generated};
use crate::regenerate;
use std::path::Path;

/// Generates the Rust module for a model held in memory, with default options.
/// `file_name` names the model in the header and in messages. Every weight is inline.
pub fn generate_from_bytes(bytes: &[u8], file_name: &str) -> Result<String> {
    generate_with(bytes, file_name, &Options::default())
}

/// Generates the Rust module for a model held in memory. Every weight is inline
/// ([`Options::weights_file_threshold`] needs [`generate_files`]).
pub fn generate_with(bytes: &[u8], file_name: &str, options: &Options) -> Result<String> {
    generate_reporting(bytes, file_name, options).map(|g| g.code)
}

/// Generates the Rust module for a model held in memory, with the warnings. Every weight is
/// inline.
pub fn generate_reporting(bytes: &[u8], file_name: &str, options: &Options) -> Result<Generated> {
    let regenerate = regenerate::command(
        options,
        Path::new(file_name),
        regenerate::Destination::Stdout,
    );
    pipeline::generate(bytes, file_name, options, None, &regenerate)
}

/// Generates the module `<module_stem>.rs` for a model held in memory and, when
/// [`Options::weights_file_threshold`] sends some static there, the weights file
/// `<module_stem>.weights.bin` that the module reads with `include_bytes!` (a path relative
/// to the module's own file, so both must be written to the same directory).
pub fn generate_files(
    bytes: &[u8],
    file_name: &str,
    module_stem: &str,
    options: &Options,
) -> Result<Generated> {
    let module = format!("{module_stem}.rs");
    let regenerate = regenerate::command(
        options,
        Path::new(file_name),
        regenerate::Destination::Named(&module),
    );
    generate_files_regenerated(bytes, file_name, module_stem, options, &regenerate)
}

/// [`generate_files`] with the header's regenerate command given.
pub(crate) fn generate_files_regenerated(
    bytes: &[u8],
    file_name: &str,
    module_stem: &str,
    options: &Options,
    regenerate: &str,
) -> Result<Generated> {
    let name = weights_file_name(module_stem);
    let side_file = options
        .weights_file_threshold
        .map(|threshold| emit::SideFile {
            name: &name,
            threshold,
        });
    pipeline::generate(bytes, file_name, options, side_file, regenerate)
}

/// The weights file of module `<module_stem>.rs`.
pub fn weights_file_name(module_stem: &str) -> String {
    format!("{module_stem}.weights.bin")
}
