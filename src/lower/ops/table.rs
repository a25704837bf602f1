//! Unary ops as 256-entry int8 tables built at codegen (docs/numerics.md):
//! `T[q + 128] = sat(round_half_even(f(q * 2^ex) * 2^-ey))`.
//!
//! - The smooth functions (Sigmoid, Tanh, Exp, Erf, ...) are evaluated in f64; ONNX Runtime
//!   uses f32 approximations, so an entry can differ by one step near a rounding boundary.
//! - LeakyRelu and PRelu are evaluated as ONNX Runtime does, `slope * x` in f32, so their
//!   tables are exact. PRelu with a per-channel slope gets one table per channel.
//! - An int8 input with an int16 output gets int16 entries. An int16 input reads an
//!   interpolated table instead (`quant::interpolation`, within 1 step of f, measured at
//!   codegen), except LeakyRelu and PRelu, which compute `slope * x` in f32 at run time.
//!
//! [`unary_function`] is the one place that maps an op to its real function.

use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, RealBounds, Renderer};
use crate::kernel::{Elem, KernelEmit};
use crate::lower::Pending;
use crate::lower::{Lowering, Value};
use crate::onnx::Node;
use crate::quant::interpolation::{interpolated, Interpolated, FRACTION_BITS, SEGMENT_BITS};
use crate::quant::table::{int8_input_table, int8_table};
use crate::quant::QType;
use std::rc::Rc;

/// The real function of a unary op, for the ops that become tables.
pub type RealFunction = Rc<dyn Fn(f64) -> f64>;

/// How a unary table op reads its real function `f`, in f64, from its node: attributes (and
/// Pow's constant exponent) with their ONNX defaults.
pub type FunctionOf = fn(&Lowering, &Node) -> Result<RealFunction>;

/// A float attribute of a table op, as f64.
fn attr(node: &Node, name: &str, default: f32) -> Result<f64> {
    node.attr_float(name, default).map(f64::from)
}

pub fn pow(lowering: &Lowering, node: &Node) -> Result<RealFunction> {
    let exponent = match lowering.value(node, 1)? {
        Value::Const(c) => c.single(),
        Value::QuantConst(q) if q.values.len() == 1 => {
            Some(q.values[0] as f64 * 2f64.powi(q.exponent))
        }
        _ => None,
    }
    .ok_or_else(|| Error::node(node, "the exponent must be a scalar constant"))?;
    Ok(Rc::new(move |x: f64| x.powf(exponent)))
}

pub fn sigmoid(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(|x: f64| 1.0 / (1.0 + (-x).exp())))
}

pub fn tanh(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(f64::tanh))
}

pub fn hard_sigmoid(_: &Lowering, node: &Node) -> Result<RealFunction> {
    let (alpha, beta) = (attr(node, "alpha", 0.2)?, attr(node, "beta", 0.5)?);
    Ok(Rc::new(move |x: f64| (alpha * x + beta).clamp(0.0, 1.0)))
}

pub fn hard_swish(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(|x: f64| x * (x / 6.0 + 0.5).clamp(0.0, 1.0)))
}

pub fn elu(_: &Lowering, node: &Node) -> Result<RealFunction> {
    let alpha = attr(node, "alpha", 1.0)?;
    Ok(Rc::new(
        move |x: f64| if x < 0.0 { alpha * x.exp_m1() } else { x },
    ))
}

pub fn exp(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(f64::exp))
}

/// Negative inputs give NaN (and 0 gives -inf), which QuantizeLinear saturates.
pub fn log(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(f64::ln))
}

pub fn sqrt(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(f64::sqrt))
}

pub fn softplus(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(|x: f64| if x > 30.0 { x } else { x.exp().ln_1p() }))
}

pub fn neg(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(|x: f64| -x))
}

pub fn erf(_: &Lowering, _: &Node) -> Result<RealFunction> {
    Ok(Rc::new(crate::quant::expr::erf))
}

pub fn gelu(_: &Lowering, node: &Node) -> Result<RealFunction> {
    Ok(match node.attr_string("approximate", "none")?.as_str() {
        "none" => Rc::new(|x: f64| {
            0.5 * x * (1.0 + crate::quant::expr::erf(x / std::f64::consts::SQRT_2))
        }),
        "tanh" => Rc::new(|x: f64| {
            let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            0.5 * x * (1.0 + inner.tanh())
        }),
        other => {
            return Err(Error::node(
                node,
                format!("approximate = '{other}' is not 'none' or 'tanh'"),
            ))
        }
    })
}

/// A unary op whose real function `function_of` reads from the node: one table.
pub fn lower_unary(lowering: &mut Lowering, node: &Node, function_of: FunctionOf) -> Result<()> {
    let function = function_of(lowering, node)?;
    lower_tables(lowering, node, |_, _, _| Ok(vec![function]), None)
}

pub fn lower_leaky_relu(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let alpha = node.attr_float("alpha", 0.01)?;
    lower_tables(
        lowering,
        node,
        |_, _, _| Ok(vec![leaky(alpha)]),
        Some(|_, node, _| Ok(vec![node.attr_float("alpha", 0.01)?])),
    )
}

/// PRelu: one table, or one per channel.
pub fn lower_prelu(lowering: &mut Lowering, node: &Node) -> Result<()> {
    lower_tables(
        lowering,
        node,
        |lowering, node, shape| {
            Ok(prelu_slopes(lowering, node, shape)?
                .into_iter()
                .map(leaky)
                .collect())
        },
        Some(prelu_slopes),
    )
}

/// How a LeakyRelu/PRelu reads its slopes (one, or one per channel) for an input shape.
type SlopesOf = fn(&Lowering, &Node, &[usize]) -> Result<Vec<f32>>;

/// A table op with the functions `functions_of` gives for its input shape: one, or one per
/// channel. `slopes_of` gives LeakyRelu's and PRelu's slopes, which an int16 input evaluates
/// exactly instead of by table.
fn lower_tables(
    lowering: &mut Lowering,
    node: &Node,
    functions_of: impl FnOnce(&Lowering, &Node, &[usize]) -> Result<Vec<RealFunction>>,
    slopes_of: Option<SlopesOf>,
) -> Result<()> {
    let input = lowering.quant_input(node, 0)?;
    let shape = lowering.tensor(input).shape.clone();
    if shape.contains(&0) {
        return Err(Error::node(node, format!("input shape {shape:?} is empty")));
    }
    let functions = functions_of(lowering, node, &shape)?;
    let slopes = slopes_of.map(|f| f(lowering, node, &shape)).transpose()?;
    // Elements per channel, for per-channel tables over NCHW (the channel is axis 1).
    let inner = if functions.len() > 1 {
        shape[2..].iter().product()
    } else {
        shape.iter().product()
    };
    let pending = TablePending {
        node: node.clone(),
        input,
        functions,
        slopes,
        inner,
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

/// Mul of an activation `x` and the still unquantized output of a table op on that same `x`
/// (Swish/SiLU exported as `x * Sigmoid(x)`) becomes one table of `x * f(x)`. Returns whether
/// the node was lowered this way.
pub fn lower_product_with_self(lowering: &mut Lowering, node: &Node) -> Result<bool> {
    let (Ok(a), Ok(b)) = (lowering.value(node, 0), lowering.value(node, 1)) else {
        return Ok(false);
    };
    let fused = match (a, b) {
        (Value::Quant(x), Value::Pending(p)) | (Value::Pending(p), Value::Quant(x))
            if p.bounds == RealBounds::default() =>
        {
            p.compute.unary_function().filter(|(input, _)| input == x)
        }
        _ => None,
    };
    let Some((input, f)) = fused else {
        return Ok(false);
    };
    let shape = lowering.tensor(input).shape.clone();
    let pending = TablePending {
        node: node.clone(),
        input,
        slopes: None,
        functions: vec![Rc::new(move |x: f64| x * f(x))],
        inner: shape.iter().product(),
        shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))?;
    Ok(true)
}

/// `x` for `x >= 0`, else `slope * x` rounded to f32 as ONNX Runtime computes it.
fn leaky(slope: f32) -> RealFunction {
    Rc::new(move |x: f64| {
        if x >= 0.0 {
            x
        } else {
            (slope * x as f32) as f64
        }
    })
}

/// PRelu's slope as one value, or one per channel (axis 1) of an input of shape `shape`.
fn prelu_slopes(lowering: &Lowering, node: &Node, shape: &[usize]) -> Result<Vec<f32>> {
    let (values, dims): (Vec<f32>, Vec<usize>) = match lowering.value(node, 1)? {
        Value::Const(c) if c.dtype.is_float() => {
            (c.values.iter().map(|&v| v as f32).collect(), c.dims.clone())
        }
        Value::QuantConst(q) => {
            let scale = 2f64.powi(q.exponent);
            (
                q.values
                    .iter()
                    .map(|&v| (v as f64 * scale) as f32)
                    .collect(),
                q.dims.clone(),
            )
        }
        other => {
            return Err(Error::node(
                node,
                format!(
                    "slope must be a constant, found {}",
                    crate::lower::describe(other)
                ),
            ))
        }
    };
    if values.len() == 1 {
        return Ok(values);
    }
    // Right-aligned against the input, the only axis with more than one slope must be 1.
    let sloped: Vec<usize> = (0..dims.len()).filter(|&a| dims[a] > 1).collect();
    let per_channel = dims.len() <= shape.len()
        && shape.len() >= 2
        && sloped.len() == 1
        && sloped[0] + shape.len() - dims.len() == 1
        && values.len() == shape[1];
    if !per_channel {
        return Err(Error::node(
            node,
            format!("slope shape {dims:?} against input {shape:?}: only one slope or one per channel (axis 1) is supported"),
        ));
    }
    Ok(values)
}

struct TablePending {
    node: Node,
    input: TensorId,
    /// One function, or one per channel.
    functions: Vec<RealFunction>,
    /// LeakyRelu's or PRelu's slopes (one, or one per channel).
    slopes: Option<Vec<f32>>,
    inner: usize,
    shape: Vec<usize>,
}

impl std::fmt::Debug for TablePending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TablePending")
            .field("input", &self.input)
            .field("functions", &self.functions.len())
            .field("inner", &self.inner)
            .field("shape", &self.shape)
            .finish()
    }
}

impl Pending for TablePending {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn unary_function(&self) -> Option<(TensorId, RealFunction)> {
        match &self.functions[..] {
            [f] => Some((self.input, f.clone())),
            _ => None,
        }
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let input = lowering.tensor(self.input);
        let (input_exponent, input_type) = (input.exponent, input.dtype);
        if input_type == QType::I16 {
            return self.finish_int16(lowering, output_exponent, clamp);
        }
        let tables = self
            .functions
            .iter()
            .map(|f| match clamp.dtype {
                QType::I8 => {
                    let (lo, hi) = clamp.int8();
                    let exact = |x| Ok::<f64, std::convert::Infallible>(f(x));
                    let Ok(table) =
                        int8_table(exact, input_exponent, output_exponent, lowering.rounding);
                    table
                        .into_iter()
                        .map(|v| v.max(lo).min(hi) as i64)
                        .collect()
                }
                QType::I16 => {
                    let table = int8_input_table(
                        f.as_ref(),
                        input_exponent,
                        output_exponent,
                        QType::I16,
                        lowering.rounding,
                    );
                    table
                        .into_iter()
                        .map(|v| v.max(clamp.lo).min(clamp.hi))
                        .collect()
                }
            })
            .collect();
        let kernel = TableKernel {
            tables,
            elem: match clamp.dtype {
                QType::I8 => Elem::I8,
                QType::I16 => Elem::I16,
            },
            inner: self.inner,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

impl TablePending {
    /// An int16 input: LeakyRelu and PRelu exactly, every other function by an interpolated
    /// table (docs/numerics.md, "Unary ops on int16").
    fn finish_int16(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let input_exponent = lowering.tensor(self.input).exponent;
        if let Some(slopes) = &self.slopes {
            let kernel = LeakyKernel {
                slopes: slopes.clone(),
                inner: self.inner,
                shift: output_exponent - input_exponent,
                clamp,
            };
            return Ok((Box::new(kernel), vec![self.input]));
        }
        let [f] = &self.functions[..] else {
            return Err(Error::Internal(format!(
                "'{}': per-channel tables on int16 without slopes",
                self.node.name
            )));
        };
        let table = interpolated(
            f.as_ref(),
            input_exponent,
            output_exponent,
            clamp.dtype,
            lowering.rounding,
        );
        let kernel = InterpolatedKernel { table, clamp };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct TableKernel {
    /// One 256-entry table, or one per channel; entry `q + 128` holds the output for `q`.
    tables: Vec<Vec<i64>>,
    /// The output's type: the entries' type.
    elem: Elem,
    /// Consecutive elements that share a table.
    inner: usize,
}

impl Kernel for TableKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Table)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("kind", "lookup");
        out.set("inner", self.inner);
        let table = out.add_static(
            "TABLE",
            self.elem,
            &[self.tables.len(), 256],
            self.tables.iter().flatten().copied().collect(),
        );
        out.set("table", table);
        out.describe(format!(
            "{} lookup table(s) of 256 entries",
            self.tables.len()
        ));
        Ok(())
    }

    fn pointwise(&self) -> bool {
        true
    }

    /// An int8 input, with int8 or int16 entries.
    fn supports_int16(&self) -> bool {
        true
    }
}

/// An int16 input through an interpolated table.
#[derive(Debug)]
struct InterpolatedKernel {
    table: Interpolated,
    clamp: Clamp,
}

impl Kernel for InterpolatedKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Table)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("kind", "interpolate");
        let segments = out.add_static(
            "SEGMENTS",
            Elem::U32,
            &[self.table.segments.len()],
            self.table.segments.iter().map(|&v| v as i64).collect(),
        );
        out.set("segments", segments);
        let entries = self.table.entries.len();
        let table = out.add_static(
            "TABLE",
            Elem::I32,
            &[entries],
            self.table.entries.iter().map(|&v| v as i64).collect(),
        );
        out.set("table", table);
        out.set("segment_bits", SEGMENT_BITS);
        out.set("fraction_bits", FRACTION_BITS);
        out.set("max_error", self.table.max_error);
        self.clamp.set(out);
        out.describe(format!(
            "interpolated table of {entries} entries and {} segments ({} bytes), at most {} LSB from f",
            self.table.segments.len(),
            self.table.bytes(),
            self.table.max_error
        ));
        Ok(())
    }

    fn pointwise(&self) -> bool {
        true
    }

    fn supports_int16(&self) -> bool {
        true
    }
}

/// LeakyRelu/PRelu of an int16 input, as ONNX Runtime computes it: `x >= 0` requantized by a
/// shift, `slope * x` in f32 for a negative `x`, quantized as QuantizeLinear does.
#[derive(Debug)]
struct LeakyKernel {
    /// One slope, or one per channel.
    slopes: Vec<f32>,
    /// Consecutive elements that share a slope.
    inner: usize,
    /// `ey - ex`.
    shift: i32,
    clamp: Clamp,
}

impl Kernel for LeakyKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Table)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("kind", "leaky");
        out.set("inner", self.inner);
        let literal = |v: f32| format!("{v:?}f32");
        out.set(
            "slopes",
            self.slopes.iter().map(|&v| literal(v)).collect::<Vec<_>>(),
        );
        out.set("shift", self.shift);
        out.set("inverse_scale", literal(2f32.powi(-self.shift)));
        self.clamp.set(out);
        out.describe(format!(
            "{} slope(s), in f32 as ONNX Runtime; shift {}",
            self.slopes.len(),
            self.shift
        ));
        Ok(())
    }

    fn shift(&self) -> Option<i32> {
        Some(self.shift)
    }

    fn pointwise(&self) -> bool {
        true
    }

    fn supports_int16(&self) -> bool {
        true
    }
}
