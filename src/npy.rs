//! Reading NumPy `.npy` files (format versions 1 to 3): the inputs a user gives `inspect`, and
//! the test samples `generate --embed-tests` embeds.
//! Only little-endian float32/float64 arrays in C order are accepted; that is what
//! `np.save(path, x.astype(np.float32))` writes.

use crate::error::{Error, Result};
use std::path::Path;

/// A float array: its shape and its values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The array in `path`; `option` is the flag that named the file, for messages.
pub fn read(path: &Path, option: &'static str) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes).map_err(|message| Error::Usage {
        option,
        message: format!("{}: {message}", path.display()),
    })
}

pub fn parse(bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or("not a .npy file (no \\x93NUMPY magic)")?;
    let (header_len, rest) = match rest {
        [1, _, a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
        [2 | 3, _, a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        _ => return Err("unsupported .npy format version".into()),
    };
    if rest.len() < header_len {
        return Err("the header is truncated".into());
    }
    let (header, data) = rest.split_at(header_len);
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    let descr = field(header, "descr")?;
    let fortran = field(header, "fortran_order")?;
    if fortran.trim() != "False" {
        return Err("Fortran-ordered arrays are not supported; save a C-ordered array".into());
    }
    let shape_text = field(header, "shape")?;
    let shape = shape_text
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<usize>()
                .map_err(|_| format!("bad dimension '{d}'"))
        })
        .collect::<std::result::Result<Vec<usize>, String>>()?;
    let count = crate::onnx::element_count(&shape).ok_or("the array is too large")?;
    let values: Vec<f32> = match descr.trim().trim_matches(['\'', '"']) {
        "<f4" => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "<f8" => data
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_le_bytes(b) as f32
            })
            .collect(),
        other => {
            return Err(format!(
                "element type {other} is not supported; save float32 (x.astype(np.float32))"
            ))
        }
    };
    if values.len() < count {
        return Err(format!(
            "shape {shape:?} needs {count} values but the file holds {}",
            values.len()
        ));
    }
    Ok(NpyArray {
        shape,
        values: values[..count].to_vec(),
    })
}

/// The text of `'key': value` in the header's Python dict literal.
fn field<'h>(header: &'h str, key: &str) -> std::result::Result<&'h str, String> {
    let start = header
        .find(&format!("'{key}'"))
        .ok_or(format!("the header has no '{key}'"))?
        + key.len()
        + 2;
    let value = header[start..].trim_start().trim_start_matches(':');
    // A value ends at the next top-level comma; the shape tuple holds commas of its own.
    let end = if value.trim_start().starts_with('(') {
        value.find(')').map(|i| i + 1)
    } else {
        value.find([',', '}'])
    }
    .ok_or(format!("the header's '{key}' is malformed"))?;
    Ok(&value[..end])
}

/// Writes float32 `values` of `shape` (row-major) as a `.npy` file (format version 1), as
/// `np.save` would: e.g. recorded samples for [`crate::Builder::embed_tests`].
pub fn write(path: &Path, shape: &[usize], values: &[f32]) -> Result<()> {
    if crate::onnx::element_count(shape) != Some(values.len()) {
        return Err(Error::Usage {
            option: "npy",
            message: format!("{} values do not fill shape {shape:?}", values.len()),
        });
    }
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    // A 1-tuple needs its comma.
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Magic (6), version (2), header length (2) and header end on a multiple of 64, with '\n'.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let length = u16::try_from(header.len()).map_err(|_| Error::Usage {
        option: "npy",
        message: format!("shape {shape:?} makes a header too long for format version 1"),
    })?;
    bytes.extend(length.to_le_bytes());
    bytes.extend(header.as_bytes());
    for value in values {
        bytes.extend(value.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn what_write_writes_reads_back() {
        let dir = std::env::temp_dir().join(format!("onnx2esp-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for shape in [vec![6usize], vec![2, 3], vec![1, 1, 2, 3]] {
            let values: Vec<f32> = (0..6).map(|i| i as f32 * -0.5).collect();
            let path = dir.join("a.npy");
            write(&path, &shape, &values).unwrap();
            let back = read(&path, "--test").unwrap();
            assert_eq!((back.shape, back.values), (shape, values));
        }
        assert!(write(&dir.join("b.npy"), &[4], &[1.0; 3]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_float32_and_float64() {
        let data: Vec<u8> = [1.5f32, -2.0, 0.25, 8.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = parse(&npy("<f4", "(2, 2)", &data)).unwrap();
        assert_eq!(a.shape, vec![2, 2]);
        assert_eq!(a.values, vec![1.5, -2.0, 0.25, 8.0]);
        let data: Vec<u8> = [3.0f64].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&npy("<f8", "(1,)", &data)).unwrap();
        assert_eq!((a.shape, a.values), (vec![1], vec![3.0]));
    }

    #[test]
    fn rejects_other_types_and_short_data() {
        assert!(parse(&npy("<i8", "(1,)", &[0; 8]))
            .unwrap_err()
            .contains("float32"));
        assert!(parse(&npy("<f4", "(3,)", &[0; 8]))
            .unwrap_err()
            .contains("needs 3 values"));
        assert!(parse(b"PK\x03\x04").unwrap_err().contains("magic"));
    }
}
