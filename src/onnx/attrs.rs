//! Node attributes, decoded once into plain values.

use super::proto as pb;
use super::tensor::Constant;

#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    Int(i64),
    Float(f32),
    String(String),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strings(Vec<String>),
    Tensor(Constant),
}

impl Attribute {
    pub fn from_proto(a: &pb::AttributeProto) -> Result<Attribute, String> {
        use pb::attribute_proto::AttributeType as T;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(match T::try_from(a.r#type) {
            Ok(T::Int) => Attribute::Int(a.i),
            Ok(T::Float) => Attribute::Float(a.f),
            Ok(T::String) => Attribute::String(text(&a.s)),
            Ok(T::Ints) => Attribute::Ints(a.ints.clone()),
            Ok(T::Floats) => Attribute::Floats(a.floats.clone()),
            Ok(T::Strings) => Attribute::Strings(a.strings.iter().map(|s| text(s)).collect()),
            Ok(T::Tensor) => match &a.t {
                Some(t) => Attribute::Tensor(Constant::from_proto(t).map_err(|e| e.to_string())?),
                None => return Err(format!("attribute '{}' has no tensor", a.name)),
            },
            _ => {
                return Err(format!(
                    "attribute '{}' has an unsupported type (code {})",
                    a.name, a.r#type
                ))
            }
        })
    }
}

impl super::Node {
    fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attributes.get(name)
    }

    fn wrong_type(&self, name: &str, expected: &str) -> crate::error::Error {
        crate::error::Error::node(
            self,
            format!(
                "attribute '{name}' should be {expected}, found {:?}",
                self.attr(name)
            ),
        )
    }

    pub fn attr_int(&self, name: &str, default: i64) -> crate::error::Result<i64> {
        match self.attr(name) {
            None => Ok(default),
            Some(Attribute::Int(v)) => Ok(*v),
            Some(_) => Err(self.wrong_type(name, "an int")),
        }
    }

    pub fn attr_float(&self, name: &str, default: f32) -> crate::error::Result<f32> {
        match self.attr(name) {
            None => Ok(default),
            Some(Attribute::Float(v)) => Ok(*v),
            Some(_) => Err(self.wrong_type(name, "a float")),
        }
    }

    pub fn attr_string(&self, name: &str, default: &str) -> crate::error::Result<String> {
        match self.attr(name) {
            None => Ok(default.to_string()),
            Some(Attribute::String(v)) => Ok(v.clone()),
            Some(_) => Err(self.wrong_type(name, "a string")),
        }
    }

    pub fn attr_ints(&self, name: &str) -> crate::error::Result<Option<Vec<i64>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attribute::Ints(v)) => Ok(Some(v.clone())),
            Some(_) => Err(self.wrong_type(name, "a list of ints")),
        }
    }
}
