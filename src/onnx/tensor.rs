//! Constant tensors (initializers, `Constant` nodes, folded results).

use super::proto as pb;
use crate::error::{Error, Result};

/// The element types onnx2esp reads. Values of every type are held as `f64`, which is exact
/// for all of them (int64 only up to 2^53, far beyond any shape or index in a model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    F64,
    I8,
    U8,
    I16,
    U16,
    I32,
    I64,
    Bool,
}

impl DType {
    pub fn from_onnx(code: i32) -> Result<DType, String> {
        use pb::tensor_proto::DataType as D;
        Ok(match D::try_from(code) {
            Ok(D::Float) => DType::F32,
            Ok(D::Double) => DType::F64,
            Ok(D::Int8) => DType::I8,
            Ok(D::Uint8) => DType::U8,
            Ok(D::Int16) => DType::I16,
            Ok(D::Uint16) => DType::U16,
            Ok(D::Int32) => DType::I32,
            Ok(D::Int64) => DType::I64,
            Ok(D::Bool) => DType::Bool,
            Ok(other) => return Err(format!("element type {other:?} is not supported")),
            Err(_) => return Err(format!("unknown element type code {code}")),
        })
    }

    /// The closed integer range of an integer type.
    pub fn int_range(self) -> Option<(i64, i64)> {
        Some(match self {
            DType::I8 => (-128, 127),
            DType::U8 => (0, 255),
            DType::I16 => (-32768, 32767),
            DType::U16 => (0, 65535),
            DType::I32 => (i32::MIN as i64, i32::MAX as i64),
            _ => return None,
        })
    }

    /// Bytes per element in `raw_data`.
    pub fn bytes(self) -> usize {
        match self {
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I16 | DType::U16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

/// No tensor on a microcontroller comes near this; larger shapes are rejected at load time,
/// which also keeps every size computation far from overflow.
pub const MAX_ELEMENTS: usize = 1 << 24;

/// The most values all initializers may hold together (held as f64: 256 MiB).
pub const MAX_CONSTANT_ELEMENTS: usize = 1 << 25;

/// The number of elements of a shape, if it is at most [`MAX_ELEMENTS`].
pub fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
}

/// A constant tensor: shape in ONNX order and values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    pub dtype: DType,
    pub dims: Vec<usize>,
    pub values: Vec<f64>,
}

impl Constant {
    pub fn scalar(dtype: DType, value: f64) -> Constant {
        Constant {
            dtype,
            dims: vec![],
            values: vec![value],
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The single value of a scalar or one-element tensor.
    pub fn single(&self) -> Option<f64> {
        (self.values.len() == 1).then(|| self.values[0])
    }

    pub fn from_proto(t: &pb::TensorProto) -> Result<Constant> {
        let fail = |m: String| Error::tensor(&t.name, m);
        if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
            return Err(fail(
                "external tensor data is not supported; save the model with the weights inside"
                    .into(),
            ));
        }
        let dtype = DType::from_onnx(t.data_type).map_err(&fail)?;
        let dims = t
            .dims
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| fail(format!("negative dimension {d}"))))
            .collect::<Result<Vec<_>>>()?;
        let count = element_count(&dims).ok_or_else(|| {
            fail(format!(
                "shape {dims:?} has more elements than onnx2esp accepts ({MAX_ELEMENTS})"
            ))
        })?;
        let values = if !t.raw_data.is_empty() {
            let size = dtype.bytes();
            if !t.raw_data.len().is_multiple_of(size) {
                return Err(fail(format!(
                    "raw_data has {} bytes, not a whole number of {dtype:?} elements ({size} bytes each)",
                    t.raw_data.len()
                )));
            }
            decode_raw(dtype, &t.raw_data)
        } else {
            match dtype {
                DType::F32 => t.float_data.iter().map(|&v| v as f64).collect(),
                DType::F64 => t.double_data.clone(),
                DType::I64 => t.int64_data.iter().map(|&v| v as f64).collect(),
                // ONNX stores all narrower integers and bool in int32_data.
                _ => t.int32_data.iter().map(|&v| v as f64).collect(),
            }
        };
        if values.len() != count {
            return Err(fail(format!(
                "shape {dims:?} needs {count} values but the tensor holds {}",
                values.len()
            )));
        }
        Ok(Constant {
            dtype,
            dims,
            values,
        })
    }
}

fn decode_raw(dtype: DType, raw: &[u8]) -> Vec<f64> {
    fn each<const N: usize>(raw: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        raw.chunks_exact(N)
            .map(|c| f(c.try_into().unwrap_or([0; N])))
            .collect()
    }
    match dtype {
        DType::F32 => each(raw, |b| f32::from_le_bytes(b) as f64),
        DType::F64 => each(raw, f64::from_le_bytes),
        DType::I8 => each(raw, |b: [u8; 1]| b[0] as i8 as f64),
        DType::U8 | DType::Bool => each(raw, |b: [u8; 1]| b[0] as f64),
        DType::I16 => each(raw, |b| i16::from_le_bytes(b) as f64),
        DType::U16 => each(raw, |b| u16::from_le_bytes(b) as f64),
        DType::I32 => each(raw, |b| i32::from_le_bytes(b) as f64),
        DType::I64 => each(raw, |b| i64::from_le_bytes(b) as f64),
    }
}
