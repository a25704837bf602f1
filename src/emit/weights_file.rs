//! Large weight statics in a binary file beside the module (`model.rs` → `model.weights.bin`),
//! read with `include_bytes!` into 16-byte aligned statics. The `.rs` stays small and
//! diffable, and rustc turns the bytes into arrays about three times faster (and in less than
//! a sixth of the memory) than it parses the same values as literals.
//!
//! `include_bytes!` gives `&[u8; N]`, and the kernels index `[i8; N]` (or `i32`, `u16`,
//! `u32`) arrays. Without `unsafe` there is no reinterpreting bytes as `i8`, so every static
//! is filled in const evaluation by a `const fn` that decodes its bytes. The decoder matches
//! 16 bytes per step with a slice pattern: the const evaluator then runs about one MIR
//! statement per value and one loop step per 16 bytes, which keeps a tensor of millions of
//! values under rustc's deny-by-default `long_running_const_eval` lint (an indexing `while`
//! loop trips it at about a million values, and takes twice as long). Kernels reading `u8`
//! would need no decoding, but then every template would have to know where its weights are.
//!
//! Layout, deterministic: 16 header bytes (`onnx2esp`, then the first 8 bytes of the SHA-256
//! of everything after the header), then the tensors in the module's static order, each at
//! a 16-byte aligned offset, little-endian, zero-padded. The module refuses to compile with a
//! file of another length (the length is in its type) or another hash (a const assertion).

use crate::error::{Error, Result};
use crate::kernel::{Elem, StaticArray};
use crate::text::comment_safe;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The first bytes of every weights file.
const MAGIC: &[u8; 8] = b"onnx2esp";
/// Bytes before the first tensor: the magic and 8 bytes of hash.
const HEADER_BYTES: usize = 16;
/// Every tensor starts at a multiple of this, for the ESP32-S3's vector loads (the statics
/// are aligned by `Align16`; aligned offsets keep the file readable by other tools too).
const ALIGN: usize = 16;

/// Where to put the statics of at least `threshold` bytes: the file `name` beside the module.
#[derive(Debug, Clone, Copy)]
pub struct SideFile<'a> {
    pub name: &'a str,
    pub threshold: usize,
}

/// A weights file: its name (beside the module), its bytes, and where each tensor lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsFile {
    pub name: String,
    pub bytes: Vec<u8>,
    threshold: usize,
    tensors: Vec<PlacedTensor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PlacedTensor {
    name: String,
    elem: Elem,
    offset: usize,
    bytes: usize,
}

impl WeightsFile {
    /// Lays out the statics of at least `side.threshold` bytes (empty ones never), in order;
    /// `None` when none qualifies, so that small models keep a single file.
    pub fn layout(side: SideFile, statics: &[&StaticArray]) -> Result<Option<WeightsFile>> {
        let mut bytes = vec![0; HEADER_BYTES];
        let mut tensors = Vec::new();
        for array in statics {
            let size = array.bytes();
            if size == 0 || size < side.threshold {
                continue;
            }
            bytes.resize(bytes.len().next_multiple_of(ALIGN), 0);
            tensors.push(PlacedTensor {
                name: array.name.clone(),
                elem: array.elem,
                offset: bytes.len(),
                bytes: size,
            });
            encode(array, &mut bytes)?;
        }
        if tensors.is_empty() {
            return Ok(None);
        }
        let digest = Sha256::digest(&bytes[HEADER_BYTES..]);
        bytes[..MAGIC.len()].copy_from_slice(MAGIC);
        bytes[MAGIC.len()..HEADER_BYTES].copy_from_slice(&digest[..HEADER_BYTES - MAGIC.len()]);
        Ok(Some(WeightsFile {
            name: side.name.to_string(),
            bytes,
            threshold: side.threshold,
            tensors,
        }))
    }

    /// Whether `bytes` are a weights file (they start with its magic).
    pub fn is_one(bytes: &[u8]) -> bool {
        bytes.starts_with(MAGIC)
    }

    /// The byte offset of static `name`, when it lives in the file.
    pub fn offset_of(&self, name: &str) -> Option<usize> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.offset)
    }

    /// What byte `at` of the file belongs to, for messages about a file that differs.
    pub fn describe_byte(&self, at: usize) -> String {
        if at < HEADER_BYTES {
            return "the header (magic and hash)".into();
        }
        if at >= self.bytes.len() {
            return "what lies past the end of the generated file".into();
        }
        match self
            .tensors
            .iter()
            .find(|t| (t.offset..t.offset + t.bytes).contains(&at))
        {
            Some(t) => format!("static {}, its byte {}", t.name, at - t.offset),
            None => "alignment padding".into(),
        }
    }

    /// Header comment lines: the file, and every tensor in it.
    pub fn header_lines(&self) -> String {
        let mut lines = format!(
            "// Weights file: {}, {} bytes beside this file, read with include_bytes!.\n\
             // It holds the statics of at least {} bytes (--weights-file-threshold), at these \
             offsets:\n",
            comment_safe(&self.name),
            self.bytes.len(),
            self.threshold
        );
        for t in &self.tensors {
            let _ = writeln!(
                lines,
                "//   {:>8}  {:>8} bytes  {}",
                t.offset, t.bytes, t.name
            );
        }
        lines
    }

    /// `WEIGHTS_FILE`, the check of its hash, and the decoders the file's statics use, in
    /// rustfmt's layout (written as text: prettyplease would break the slice patterns over
    /// dozens of lines) and checked by parsing.
    pub fn reader_items(&self) -> Result<String> {
        let name = &self.name;
        let literal = proc_macro2::Literal::string(name).to_string();
        let header: Vec<String> = self.bytes[..HEADER_BYTES]
            .iter()
            .map(u8::to_string)
            .collect();
        let mut elems: Vec<Elem> = self.tensors.iter().map(|t| t.elem).collect();
        elems.sort_by_key(|e| e.rust());
        elems.dedup();
        let mut text = format!(
            "/// The weights file beside this module, {len} bytes. Its length is in the type and \
             its header\n\
             /// is checked below, so that a file from another generation does not compile. \
             Only const\n\
             /// evaluation reads it: the bytes reach the binary as the statics below.\n\
             const WEIGHTS_FILE: &[u8; {len}] = include_bytes!({literal});\n\
             \n\
             /// `onnx2esp`, then the first 8 bytes of the SHA-256 of the rest of the file.\n\
             const _: () = assert!(\n    \
                 matches!(\n        \
                     WEIGHTS_FILE,\n        \
                     [{header}, ..]\n    \
                 ),\n    \
                 {message}\n\
             );\n",
            len = self.bytes.len(),
            header = header.join(", "),
            message = proc_macro2::Literal::string(&format!(
                "{name} is not the weights file this module was generated with: regenerate both"
            )),
        );
        for elem in elems {
            text.push('\n');
            text.push_str(&decoder(elem));
        }
        syn::parse_str::<syn::File>(&text).map_err(|e| Error::InvalidRust {
            what: format!("the reader of {}", comment_safe(name)),
            message: e.to_string(),
            snippet: text.chars().take(400).collect(),
        })?;
        Ok(text)
    }

    /// The initializer of a static that lives in the file at `offset`: a zeroed array of the
    /// static's type, filled by its element type's decoder (the nested array flattened).
    pub fn initializer(array: &StaticArray, offset: usize) -> String {
        let mut zeros = "0".to_string();
        for &d in array.dims.iter().rev() {
            zeros = format!("[{zeros}; {d}]");
        }
        let flattened = ".as_flattened_mut()".repeat(array.dims.len().saturating_sub(1));
        let slice = if flattened.is_empty() {
            "&mut values".to_string()
        } else {
            format!("values{flattened}")
        };
        format!(
            "{{\n    let mut values = {zeros};\n    {}({slice}, {offset});\n    values\n}}",
            decoder_name(array.elem)
        )
    }
}

/// Appends the little-endian bytes of `array`, checking that every value fits its type.
fn encode(array: &StaticArray, bytes: &mut Vec<u8>) -> Result<()> {
    let out_of_range = |value: i64| {
        Error::Internal(format!(
            "static {} holds {value}, outside {}",
            array.name,
            array.elem.rust()
        ))
    };
    for &value in &array.values {
        let fits = match array.elem {
            Elem::I8 => i8::try_from(value).map(|v| bytes.extend(v.to_le_bytes())),
            Elem::U8 => u8::try_from(value).map(|v| bytes.push(v)),
            Elem::I16 => i16::try_from(value).map(|v| bytes.extend(v.to_le_bytes())),
            Elem::I32 => i32::try_from(value).map(|v| bytes.extend(v.to_le_bytes())),
            Elem::U16 => u16::try_from(value).map(|v| bytes.extend(v.to_le_bytes())),
            Elem::U32 => u32::try_from(value).map(|v| bytes.extend(v.to_le_bytes())),
        };
        fits.map_err(|_| out_of_range(value))?;
    }
    Ok(())
}

fn decoder_name(elem: Elem) -> String {
    format!("fill_{}", elem.rust())
}

/// `const fn fill_T(values: &mut [T], offset: usize)`: decodes `values.len()` little-endian
/// values of `WEIGHTS_FILE` from byte `offset`, 16 bytes per loop step, then one value per
/// step for the rest.
fn decoder(elem: Elem) -> String {
    let (width, ty) = (elem.bytes(), elem.rust());
    let names = |prefix: &str, count: usize| -> String {
        (0..count)
            .map(|i| format!("{prefix}{i}, "))
            .collect::<String>()
    };
    let decode = |first: usize| {
        if elem == Elem::U8 {
            format!("*b{first}")
        } else if width == 1 {
            format!("*b{first} as {ty}")
        } else {
            let bytes: Vec<String> = (first..first + width).map(|i| format!("*b{i}")).collect();
            format!("{ty}::from_le_bytes([{}])", bytes.join(", "))
        }
    };
    let stores: String = (0..ALIGN / width)
        .map(|i| format!("                *v{i} = {};\n", decode(i * width)))
        .collect();
    format!(
        "/// Fills `values` with the {ty} values of [`WEIGHTS_FILE`] from byte `offset` on; runs in \
         const\n\
         /// evaluation only.\n\
         const fn {name}(mut values: &mut [{ty}], offset: usize) {{\n    \
             let (_, mut bytes) = WEIGHTS_FILE.split_at(offset);\n    \
             loop {{\n        \
                 match (values, bytes) {{\n            \
                     (\n                \
                         [{chunk_values}values_rest @ ..],\n                \
                         [{chunk_bytes}bytes_rest @ ..],\n            \
                     ) => {{\n\
                         {stores}                \
                         values = values_rest;\n                \
                         bytes = bytes_rest;\n            \
                     }}\n            \
                     ([value, values_rest @ ..], [{one_bytes}bytes_rest @ ..]) => {{\n                \
                         *value = {one};\n                \
                         values = values_rest;\n                \
                         bytes = bytes_rest;\n            \
                     }}\n            \
                     _ => break,\n        \
                 }}\n    \
             }}\n\
         }}\n",
        name = decoder_name(elem),
        chunk_values = names("v", ALIGN / width),
        chunk_bytes = names("b", ALIGN),
        one_bytes = names("b", width),
        one = decode(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(name: &str, elem: Elem, dims: &[usize], values: Vec<i64>) -> StaticArray {
        StaticArray {
            name: name.into(),
            elem,
            dims: dims.to_vec(),
            values,
        }
    }

    fn side(threshold: usize) -> SideFile<'static> {
        SideFile {
            name: "m.weights.bin",
            threshold,
        }
    }

    #[test]
    fn tensors_at_or_over_the_threshold_are_laid_out_aligned_little_endian_after_the_header() {
        let small = array("SMALL", Elem::I8, &[3], vec![1, 2, 3]);
        let weights = array("W", Elem::I8, &[5], vec![-1, 2, -128, 127, 0]);
        let bias = array("B", Elem::I32, &[2], vec![-2, 0x0102_0304]);
        let table = array("T", Elem::U16, &[1], vec![0xBEEF]);
        let empty = array("E", Elem::I8, &[0], vec![]);
        let statics = [&small, &weights, &bias, &table, &empty];
        let file = WeightsFile::layout(side(4), &statics).unwrap().unwrap();
        assert_eq!(
            file.offset_of("SMALL"),
            None,
            "3 bytes, under the threshold"
        );
        assert_eq!(file.offset_of("E"), None, "empty statics stay inline");
        assert_eq!(file.offset_of("W"), Some(16));
        assert_eq!(file.offset_of("B"), Some(32), "the next multiple of 16");
        assert_eq!(file.offset_of("T"), None, "2 bytes");
        assert_eq!(&file.bytes[16..21], &[0xFF, 2, 0x80, 0x7F, 0]);
        assert_eq!(&file.bytes[21..32], &[0; 11], "zero padding");
        assert_eq!(
            &file.bytes[32..40],
            &[0xFE, 0xFF, 0xFF, 0xFF, 4, 3, 2, 1],
            "i32 little-endian"
        );
        assert_eq!(file.bytes.len(), 40);
        // The header: the magic, then the SHA-256 of everything after it.
        assert_eq!(&file.bytes[..8], b"onnx2esp");
        assert_eq!(&file.bytes[8..16], &Sha256::digest(&file.bytes[16..])[..8]);
        assert!(WeightsFile::is_one(&file.bytes));
        assert_eq!(file.describe_byte(3), "the header (magic and hash)");
        assert_eq!(file.describe_byte(18), "static W, its byte 2");
        assert_eq!(file.describe_byte(25), "alignment padding");
        assert_eq!(file.describe_byte(39), "static B, its byte 7");
        assert_eq!(
            file.describe_byte(40),
            "what lies past the end of the generated file"
        );

        // Threshold 0 takes every non-empty static; one above the largest takes none.
        let all = WeightsFile::layout(side(0), &statics).unwrap().unwrap();
        assert_eq!(all.offset_of("SMALL"), Some(16));
        assert_eq!(all.offset_of("T"), Some(64));
        assert_eq!(all.offset_of("E"), None);
        assert!(WeightsFile::layout(side(9), &statics).unwrap().is_none());
    }

    #[test]
    fn a_value_outside_its_type_is_an_error_naming_the_static() {
        let bad = array("CONV_0_WEIGHTS", Elem::I8, &[2], vec![1, 200]);
        let err = WeightsFile::layout(side(0), &[&bad]).unwrap_err();
        assert!(
            err.to_string()
                .contains("static CONV_0_WEIGHTS holds 200, outside i8"),
            "{err}"
        );
    }

    #[test]
    fn initializers_flatten_nested_arrays_for_the_decoder() {
        let flat = array("A", Elem::I32, &[4], vec![0; 4]);
        assert_eq!(
            WeightsFile::initializer(&flat, 16),
            "{\n    let mut values = [0; 4];\n    fill_i32(&mut values, 16);\n    values\n}"
        );
        let nested = array("B", Elem::U16, &[2, 3, 4], vec![0; 24]);
        assert_eq!(
            WeightsFile::initializer(&nested, 48),
            "{\n    let mut values = [[[0; 4]; 3]; 2];\n    \
             fill_u16(values.as_flattened_mut().as_flattened_mut(), 48);\n    values\n}"
        );
    }

    #[test]
    fn the_reader_parses_and_decodes_sixteen_bytes_per_step() {
        let statics = [
            &array("W", Elem::I8, &[20], vec![1; 20]),
            &array("B", Elem::U32, &[5], vec![7; 5]),
        ];
        let file = WeightsFile::layout(side(0), &statics).unwrap().unwrap();
        let reader = file.reader_items().unwrap();
        assert!(reader.contains("include_bytes!(\"m.weights.bin\")"));
        assert!(reader.contains("const fn fill_i8(mut values: &mut [i8], offset: usize)"));
        assert!(reader.contains("*v15 = *b15 as i8;"));
        assert!(reader.contains("*v3 = u32::from_le_bytes([*b12, *b13, *b14, *b15]);"));
        assert!(!reader.contains("fill_i32"), "only the decoders in use");
    }

    #[test]
    fn a_hostile_file_name_stays_inside_its_string_literal_and_comments() {
        let name = "x\")); fn evil() {} //\n*/.weights.bin";
        let statics = [&array("W", Elem::I8, &[1], vec![1])];
        let side = SideFile { name, threshold: 0 };
        let file = WeightsFile::layout(side, &statics).unwrap().unwrap();
        let reader = file.reader_items().unwrap();
        let parsed = syn::parse_file(&reader).unwrap();
        // WEIGHTS_FILE, the header check and fill_i8: no item smuggled in.
        assert_eq!(parsed.items.len(), 3, "{reader}");
        assert!(file.header_lines().lines().all(|l| l.starts_with("//")));
    }
}
