//! Add, Sub, Mul, Div, Mod and the comparisons of two quantized operands (activations, or one
//! DequantizeLinear constant), int8 or int16, with numpy broadcasting. One kernel serves them
//! all; only the integer arithmetic per element differs:
//! - Add/Sub: both operands exactly at `e = min(ea, eb)` by left shifts, then requantized.
//! - Mul: the product is exact at `ea + eb`, then requantized; a product beyond 2^24 (int16)
//!   is first rounded to f32, as ONNX Runtime's f32 product is.
//! - Div: `round_half_even(a * 2^k / b)` with `k = ea - eb - ey`, in integers; with an int16
//!   operand or output, ONNX Runtime's own f32 quotient `a / b`, scaled by `2^k`.
//! - Equal, Greater, GreaterOrEqual, Less, LessOrEqual: the aligned integers compared; the
//!   boolean, once Cast to float and quantized, is 0 or `Q(1.0)` at the output exponent.
//! - Mod (fmod = 1): both operands aligned like Add, then the truncated remainder (C's fmod,
//!   exact in f32 too), requantized.

use crate::error::{Error, Result};
use crate::ir::{QType, TensorId};
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Pending;
use crate::lower::{Lowering, QuantConst, Value};
use crate::onnx::Node;
use crate::quant::accumulator::{worst_case, Accumulator};
use std::rc::Rc;

/// The operation of an elementwise op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arithmetic {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// A comparison; the Rust operator.
    Compare(&'static str),
}

/// Mod: only fmod = 1. Integer Mod (fmod = 0) is only defined for integer tensors; ours hold
/// reals.
pub fn lower_mod(lowering: &mut Lowering, node: &Node) -> Result<()> {
    if node.attr_int("fmod", 0)? != 1 {
        return Err(Error::node(
            node,
            "fmod = 0 is integer Mod; quantized (float) inputs need fmod = 1",
        ));
    }
    lower(lowering, node, Arithmetic::Mod)
}

/// An elementwise op of two operands.
pub fn lower(lowering: &mut Lowering, node: &Node, arithmetic: Arithmetic) -> Result<()> {
    if arithmetic == Arithmetic::Mul && super::table::lower_product_with_self(lowering, node)? {
        return Ok(());
    }
    let a = operand(lowering, node, 0)?;
    let b = operand(lowering, node, 1)?;
    if matches!((&a, &b), (Operand::Constant(_), Operand::Constant(_))) {
        return Err(Error::node(
            node,
            "both operands are constants; fold them before export",
        ));
    }
    let shape = broadcast_shape(node, &a.shape(lowering), &b.shape(lowering))?;
    let pending = ElementwisePending {
        node: node.clone(),
        arithmetic,
        a,
        b,
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

/// An operand: an int8 activation, or integer constants at an exponent (DequantizeLinear of
/// an int8 or int32 initializer), stored as a static.
#[derive(Debug, Clone)]
enum Operand {
    Tensor(TensorId),
    Constant(Rc<QuantConst>),
}

impl Operand {
    fn shape(&self, lowering: &Lowering) -> Vec<usize> {
        match self {
            Operand::Tensor(t) => lowering.tensor(*t).shape.clone(),
            Operand::Constant(c) => c.dims.clone(),
        }
    }

    fn exponent(&self, lowering: &Lowering) -> i32 {
        match self {
            Operand::Tensor(t) => lowering.tensor(*t).exponent,
            Operand::Constant(c) => c.exponent,
        }
    }

    /// The largest magnitude the integer operand can have.
    fn magnitude(&self, lowering: &Lowering) -> i64 {
        match self {
            Operand::Tensor(t) => lowering.tensor(*t).dtype.magnitude() as i64,
            Operand::Constant(c) => c.values.iter().map(|v| v.abs()).max().unwrap_or(0).max(1),
        }
    }
}

fn operand(lowering: &mut Lowering, node: &Node, index: usize) -> Result<Operand> {
    match lowering.value(node, index)? {
        Value::QuantConst(c) if c.values.iter().all(|v| v.abs() < 1 << 24) => {
            Ok(Operand::Constant(c.clone()))
        }
        Value::QuantConst(c) => Err(Error::node(
            node,
            format!("constant '{}' has values beyond 2^24", c.name),
        )),
        _ => lowering.quant_input(node, index).map(Operand::Tensor),
    }
}

/// The numpy broadcast of two shapes: aligned at the right, each pair of dims equal or one 1.
pub fn broadcast_shape(node: &Node, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |shape: &[usize], axis: usize| {
        (axis + shape.len())
            .checked_sub(rank)
            .map_or(1, |i| shape[i])
    };
    (0..rank)
        .map(|axis| match (dim(a, axis), dim(b, axis)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            (x, y) => Err(Error::node(
                node,
                format!("shapes {a:?} and {b:?} do not broadcast (axis {axis}: {x} vs {y})"),
            )),
        })
        .collect()
}

/// Rust expression for the flat index into an input of shape `input` (broadcast to `output`)
/// at flat output index `i`. Broadcast axes contribute nothing; an input as large as the
/// output is read at `i` itself.
pub fn broadcast_index(input: &[usize], output: &[usize]) -> String {
    let len: usize = output.iter().product();
    if input.iter().product::<usize>() == len {
        return "i".into();
    }
    let offset = output.len() - input.len();
    let mut terms = Vec::new();
    let (mut out_stride, mut in_stride) = (1, 1);
    for axis in (0..output.len()).rev() {
        let in_dim = axis.checked_sub(offset).map_or(1, |a| input[a]);
        if in_dim > 1 {
            let wraps = out_stride * output[axis] < len;
            terms.push(crate::lower::index_term(
                out_stride,
                wraps.then_some(output[axis]),
                in_stride,
            ));
        }
        out_stride *= output[axis];
        in_stride *= in_dim;
    }
    if terms.is_empty() {
        "0".into()
    } else {
        terms.reverse();
        terms.join(" + ")
    }
}

#[derive(Debug)]
struct ElementwisePending {
    node: Node,
    arithmetic: Arithmetic,
    a: Operand,
    b: Operand,
    shape: Vec<usize>,
}

impl Pending for ElementwisePending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let (ea, eb) = (self.a.exponent(lowering), self.b.exponent(lowering));
        let (mag_a, mag_b) = (self.a.magnitude(lowering), self.b.magnitude(lowering));
        // Any int16 operand or output: see Div and Mul below.
        let int16 = clamp.dtype == QType::I16
            || [&self.a, &self.b].iter().any(
                |o| matches!(o, Operand::Tensor(t) if lowering.tensor(*t).dtype == QType::I16),
            );
        let mut division = Division::Integer;
        let mut f32_product = false;
        let (mut shift_a, mut shift_b) = (0, 0);
        let shift = match self.arithmetic {
            Arithmetic::Add | Arithmetic::Sub | Arithmetic::Mod | Arithmetic::Compare(_) => {
                let common = ea.min(eb);
                (shift_a, shift_b) = (ea - common, eb - common);
                // ONNX Runtime adds in f32: the sum is exact (and so is ours, in i32) while
                // both aligned operands together fit in f32's 24-bit significand; for two int8
                // activations that allows exponents up to 16 apart, for two int16 ones 8.
                let aligned = |m: i64, s: i32| m.checked_shl(s as u32).filter(|&v| v < 1 << 24);
                let fits = matches!(
                    (aligned(mag_a, shift_a), aligned(mag_b, shift_b)),
                    (Some(x), Some(y)) if x + y <= 1 << 24
                );
                if !fits {
                    return Err(Error::node(
                        &self.node,
                        format!("operands at 2^{ea} and 2^{eb} are too far apart: the aligned sum would exceed 2^24 and round in f32"),
                    ));
                }
                match self.arithmetic {
                    // A comparison's result is 0 or 1.0, quantized at ey.
                    Arithmetic::Compare(_) => output_exponent,
                    _ => output_exponent - common,
                }
            }
            Arithmetic::Mul => {
                // An f32 product of integers below 2^24 in magnitude is exact. A larger one
                // (int16 operands) is exact in i32 up to 2^30 and rounded to f32 as ONNX
                // Runtime's product is, before it is requantized.
                if mag_a * mag_b > 1 << 30 {
                    return Err(Error::node(
                        &self.node,
                        "the operands' product can exceed 2^30: too large for the exact product that ONNX Runtime's f32 product is rounded from",
                    ));
                }
                f32_product = mag_a * mag_b > 1 << 24;
                output_exponent - ea - eb
            }
            Arithmetic::Div if int16 => {
                // ONNX Runtime's quotient is the f32 division of the two integers, scaled
                // exactly by 2^k: the kernel computes that same f32 division and quantizes it
                // as QuantizeLinear does (the int16 range leaves no margin for the integer
                // argument below). Both integers are exact in f32 (below 2^24).
                let k = ea - eb - output_exponent;
                if !(-100..=100).contains(&k) || mag_a > 1 << 24 || mag_b > 1 << 24 {
                    return Err(Error::node(
                        &self.node,
                        format!("a quotient of 2^{ea} by 2^{eb} at 2^{output_exponent} (k = {k}) is outside the exact f32 range"),
                    ));
                }
                division = Division::F32 { k };
                -k
            }
            Arithmetic::Div => {
                if mag_b > 128 {
                    return Err(Error::node(
                        &self.node,
                        "a constant divisor must fit in int8 for the rounding argument below",
                    ));
                }
                // The quotient's distance to a rounding boundary is at least 2^(k-8) for
                // |b| <= 128; f32's error below 128.5 is at most 2^-17. So ONNX Runtime's f32
                // division rounds like the exact quotient when k >= -8.
                let k = ea - eb - output_exponent;
                if k < -8 {
                    return Err(Error::node(
                        &self.node,
                        format!("output exponent 2^{output_exponent} is too fine for a quotient of 2^{ea} by 2^{eb} (k = {k} < -8): ONNX Runtime's f32 division would not round exactly"),
                    ));
                }
                -k
            }
        };
        // The i32 sum `a << shift_a + b << shift_b`, or the product `a * b` (at most 2^30);
        // the f32 exactness checks above already keep both inside i32.
        let accumulator = match self.arithmetic {
            Arithmetic::Add | Arithmetic::Sub | Arithmetic::Mod => {
                let aligned = [mag_a << shift_a, mag_b << shift_b];
                Some(Accumulator::for_bound(
                    &self.node,
                    worst_case(0, aligned, 1),
                    false,
                )?)
            }
            Arithmetic::Mul => Some(Accumulator::for_bound(
                &self.node,
                worst_case(0, [mag_a], mag_b as u64),
                false,
            )?),
            Arithmetic::Div | Arithmetic::Compare(_) => None,
        };
        let tensors: Vec<TensorId> = [&self.a, &self.b]
            .into_iter()
            .filter_map(|o| match o {
                Operand::Tensor(t) => Some(*t),
                Operand::Constant(_) => None,
            })
            .collect();
        let constant = |o: &Operand| match o {
            Operand::Constant(c) => Some(c.values.clone()),
            Operand::Tensor(_) => None,
        };
        let kernel = ElementwiseKernel {
            arithmetic: self.arithmetic,
            index_a: broadcast_index(&self.a.shape(lowering), &self.shape),
            index_b: broadcast_index(&self.b.shape(lowering), &self.shape),
            constant_a: constant(&self.a),
            constant_b: constant(&self.b),
            tensors: tensors.len(),
            shift_a,
            shift_b,
            shift,
            accumulator,
            division,
            f32_product,
            clamp,
            rounding: lowering.rounding,
        };
        Ok((Box::new(kernel), tensors))
    }
}

#[derive(Debug)]
struct ElementwiseKernel {
    arithmetic: Arithmetic,
    /// Index expressions in the flat output index `i`.
    index_a: String,
    index_b: String,
    /// The values of a constant operand, emitted as a static.
    constant_a: Option<Vec<i64>>,
    constant_b: Option<Vec<i64>>,
    /// How many operands are tensors (the kernel's inputs, in order).
    tensors: usize,
    shift_a: i32,
    shift_b: i32,
    shift: i32,
    accumulator: Option<Accumulator>,
    division: Division,
    /// Mul: round the exact product to f32 first, as ONNX Runtime's f32 product.
    f32_product: bool,
    clamp: Clamp,
    rounding: crate::quant::Rounding,
}

/// How Div computes its quotient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Division {
    /// `round(a * 2^k / b)` exactly in integers, proven to round as ONNX Runtime's f32 (int8).
    Integer,
    /// ONNX Runtime's own f32 quotient `a / b`, scaled by 2^k and quantized (int16).
    F32 { k: i32 },
}

impl ElementwiseKernel {
    /// A true comparison as a real 1.0 at the output exponent (`shift` is then `ey`).
    fn true_value(&self) -> i64 {
        crate::quant::quantize_real_to(1.0, self.shift, self.clamp.dtype, self.rounding)
    }
}

impl Kernel for ElementwiseKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Elementwise)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let op = match self.arithmetic {
            Arithmetic::Compare(operator) => {
                out.set("operator", operator);
                out.set("one", self.true_value());
                "compare".to_string()
            }
            other => format!("{other:?}").to_lowercase(),
        };
        out.set("op", &op);
        // Each operand reads a kernel input or its static, at its broadcast index; in place,
        // the one tensor operand is the element about to be overwritten.
        let mut next_input = 0;
        let mut indexed = false;
        for (key, constant, index) in [
            ("a", &self.constant_a, &self.index_a),
            ("b", &self.constant_b, &self.index_b),
        ] {
            let (element, elem) = match constant {
                Some(values) => {
                    let fits_i8 = values.iter().all(|v| i8::try_from(*v).is_ok());
                    let elem = if fits_i8 { Elem::I8 } else { Elem::I32 };
                    let suffix = format!("OPERAND_{}", key.to_uppercase());
                    let name = out.add_static(&suffix, elem, &[values.len()], values.clone());
                    indexed |= index != "0";
                    (format!("{name}.0[{index}]"), elem)
                }
                None if out.in_place() => ("*y".to_string(), Elem::I8),
                None => {
                    next_input += 1;
                    indexed = true;
                    let var = KernelEmit::input_name(next_input - 1, self.tensors);
                    (format!("{var}[{index}]"), Elem::I8)
                }
            };
            out.set(key, element);
            // Operands are read as i32; an int32 static already is.
            out.set(
                &format!("widen_{key}"),
                if elem == Elem::I32 { "" } else { " as i32" },
            );
        }
        // Whether the loop needs the flat index `i`.
        out.set("indexed", indexed);
        out.set("shift_a", self.shift_a);
        out.set("shift_b", self.shift_b);
        out.set("shift", self.shift);
        let (min, max) = self.clamp.dtype.range();
        out.set("min", min);
        out.set("max", max);
        out.set("f32_product", self.f32_product);
        out.set("f32_quotient", self.division != Division::Integer);
        if let Division::F32 { k } = self.division {
            out.set("inverse_scale", format!("{:?}", 2f64.powi(k) as f32));
        }
        self.clamp.set(out);
        out.describe(match self.arithmetic {
            Arithmetic::Compare(operator) => format!(
                "a {operator} b after << {} and << {}, true is {}",
                self.shift_a,
                self.shift_b,
                self.true_value()
            ),
            Arithmetic::Add | Arithmetic::Sub | Arithmetic::Mod => format!(
                "{op}: inputs aligned by << {} and << {}, shift {}",
                self.shift_a, self.shift_b, self.shift
            ),
            Arithmetic::Mul => format!("mul: product shifted by {}", self.shift),
            Arithmetic::Div => format!("div: quotient scaled by 2^{}", -self.shift),
        });
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }

    fn accumulator(&self) -> Option<Accumulator> {
        self.accumulator
    }

    /// Operands and output in int8 or int16, each read as i32.
    fn supports_int16(&self) -> bool {
        true
    }

    /// One activation read at the output's own index, the other operand a constant.
    fn pointwise(&self) -> bool {
        let at_own_index =
            |constant: &Option<Vec<i64>>, index: &str| constant.is_none() && index == "i";
        self.tensors == 1
            && (at_own_index(&self.constant_a, &self.index_a)
                || at_own_index(&self.constant_b, &self.index_b))
    }
}
