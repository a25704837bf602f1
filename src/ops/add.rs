//! Add: both inputs are brought exactly to `e = min(ea, eb)` by left shifts, added in i32,
//! then requantized to the output exponent.

use super::{Clamp, Kernel, Pending};
use crate::emit::KernelEmit;
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::onnx::Node;
use crate::quant::Lowering;
use std::rc::Rc;

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let a = lowering.quant_input(node, 0)?;
    let b = lowering.quant_input(node, 1)?;
    let (sa, sb) = (&lowering.tensor(a).shape, &lowering.tensor(b).shape);
    if sa != sb {
        return Err(Error::node(
            node,
            format!("input shapes {sa:?} and {sb:?} differ; broadcasting is not supported yet"),
        ));
    }
    let pending = AddPending {
        a,
        b,
        shape: sa.clone(),
    };
    super::define_pending(lowering, node, Rc::new(pending))
}

#[derive(Debug)]
struct AddPending {
    a: TensorId,
    b: TensorId,
    shape: Vec<usize>,
}

impl Pending for AddPending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let (ea, eb) = (
            lowering.tensor(self.a).exponent,
            lowering.tensor(self.b).exponent,
        );
        let common = ea.min(eb);
        let (shift_a, shift_b) = (ea - common, eb - common);
        // |a << sa| + |b << sb| must fit in i32: (128 << 22) * 2 < 2^31.
        if shift_a.max(shift_b) > 22 {
            return Err(Error::Model(format!(
                "Add of '{}' (2^{ea}) and '{}' (2^{eb}): the exponents are too far apart",
                lowering.tensor(self.a).name,
                lowering.tensor(self.b).name
            )));
        }
        let kernel = AddKernel {
            len: self.shape.iter().product(),
            shift_a,
            shift_b,
            shift: output_exponent - common,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.a, self.b]))
    }
}

#[derive(Debug)]
struct AddKernel {
    len: usize,
    shift_a: i32,
    shift_b: i32,
    shift: i32,
    clamp: Clamp,
}

impl Kernel for AddKernel {
    fn template(&self) -> &'static str {
        "add.rs.tera"
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("len", self.len);
        out.set("shift_a", self.shift_a);
        out.set("shift_b", self.shift_b);
        out.set("shift", self.shift);
        self.clamp.set(out);
        out.describe(format!(
            "inputs aligned by << {} and << {}, shift {}",
            self.shift_a, self.shift_b, self.shift
        ));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }
}
