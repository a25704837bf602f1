//! LSTM and GRU (docs/numerics.md, "LSTM and GRU"): one layer runs every time step of every
//! direction, with its hidden and cell values in model state, so that `run` can consume a
//! sequence in chunks. Inside, every gate works in Q24 fixed point (`2^24` = 1.0): the two
//! matrix products accumulate exactly in i32 (i64 where the worst case needs it), sigmoid and
//! tanh are interpolated from 1025-entry tables, and the hidden state is kept and fed back as
//! int16 at `2^-15`. `Y` is rounded once from the Q24 hidden values, to the exponent and type
//! of the QuantizeLinear that reads it (int16 at `2^-15` when no single QuantizeLinear does);
//! `Y_h` and `Y_c` are read from the state after the last step, each rounded once to its
//! QuantizeLinear's exponent.

use crate::error::{Error, Result};
use crate::ir::{QType, TensorId};
use crate::kernel::{BuiltinTemplate, Clamp, Elem, Kernel, KernelEmit, Renderer, StateUse};
use crate::lower::{real_constant, Lowering, Pending, PendingValue, Value, Weights};
use crate::onnx::{Attribute, Node};
use crate::quant::accumulator::{self, Accumulator};
use crate::quant::activation::{Activation, ENTRIES};
use std::rc::Rc;

/// The exponent of the hidden state: |h| < 1 fits int16 at `2^-15`.
pub const HIDDEN_EXPONENT: i32 = -15;
/// The exponent of the gates and the cell state (Q24).
pub const CELL_EXPONENT: i32 = -24;

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Lstm,
    Gru { linear_before_reset: bool },
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru { .. } => 3,
        }
    }

    /// The default `activations` of one direction, as ONNX names them.
    fn activations(self) -> &'static [&'static str] {
        match self {
            Cell::Lstm => &["Sigmoid", "Tanh", "Tanh"],
            Cell::Gru { .. } => &["Sigmoid", "Tanh"],
        }
    }
}

pub fn lower_lstm(lowering: &mut Lowering, node: &Node) -> Result<()> {
    if node.attr_int("input_forget", 0)? != 0 {
        return Err(Error::node(
            node,
            "input_forget = 1 (coupled input and forget gates) is not supported",
        ));
    }
    lower(lowering, node, Cell::Lstm)
}

pub fn lower_gru(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let linear_before_reset = node.attr_int("linear_before_reset", 0)? != 0;
    lower(
        lowering,
        node,
        Cell::Gru {
            linear_before_reset,
        },
    )
}

/// The sizes of a recurrent layer.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    steps: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    directions: usize,
    gates: usize,
}

impl Sizes {
    /// Rows of W and R over all directions.
    fn rows(&self) -> usize {
        self.directions * self.gates * self.hidden
    }

    /// [`Sizes::states`], saturating: sizes from a hostile model are checked against the RAM
    /// budget before anything of their size is built.
    fn states_saturating(&self) -> usize {
        self.directions
            .saturating_mul(self.batch)
            .saturating_mul(self.hidden)
    }

    /// Hidden (or cell) values over all directions and batch rows.
    fn states(&self) -> usize {
        self.directions * self.batch * self.hidden
    }
}

fn lower(lowering: &mut Lowering, node: &Node, cell: Cell) -> Result<()> {
    let x = lowering.quant_input(node, 0)?;
    let x_tensor = lowering.tensor(x).clone();
    let layout = node.attr_int("layout", 0)?;
    let (steps, batch, input) = match (&x_tensor.shape[..], layout) {
        ([t, b, i], 0) => (*t, *b, *i),
        ([b, t, i], 1) => (*t, *b, *i),
        (shape, 0 | 1) => {
            return Err(Error::node(
                node,
                format!("input X has shape {shape:?}; LSTM and GRU take a 3-D input"),
            ))
        }
        (_, other) => {
            return Err(Error::node(
                node,
                format!("layout {other}: only 0 and 1 exist"),
            ))
        }
    };
    let direction = node.attr_string("direction", "forward")?;
    let reverse: Vec<bool> = match direction.as_str() {
        "forward" => vec![false],
        "reverse" => vec![true],
        "bidirectional" => vec![false, true],
        other => {
            return Err(Error::node(
                node,
                format!(
                    "direction '{}' is not forward, reverse or bidirectional",
                    crate::text::comment_safe(other)
                ),
            ))
        }
    };
    let gates = cell.gates();
    let weights = lowering.weights(node, 1)?;
    let recurrent = lowering.weights(node, 2)?;
    let hidden = match weights.dims[..] {
        [d, rows, i] if d == reverse.len() && i == input && rows % gates == 0 && rows > 0 => {
            rows / gates
        }
        _ => {
            return Err(Error::node(
                node,
                format!(
                    "weight W '{}' has shape {:?}; expected [{}, {gates} * hidden_size, {input}]",
                    weights.name,
                    weights.dims,
                    reverse.len()
                ),
            ))
        }
    };
    if let Some(h) = node.attributes.get("hidden_size") {
        if !matches!(h, Attribute::Int(v) if *v as usize == hidden) {
            return Err(Error::node(
                node,
                format!("hidden_size {h:?} disagrees with W's {hidden}"),
            ));
        }
    }
    if recurrent.dims != [reverse.len(), gates * hidden, hidden] {
        return Err(Error::node(
            node,
            format!(
                "weight R '{}' has shape {:?}; expected {:?}",
                recurrent.name,
                recurrent.dims,
                [reverse.len(), gates * hidden, hidden]
            ),
        ));
    }
    let sizes = Sizes {
        steps,
        batch,
        input,
        hidden,
        directions: reverse.len(),
        gates,
    };
    check_attributes(node, cell, sizes.directions)?;
    check_sequence_lens(lowering, node, sizes)?;
    if lowering.has_input(node, 7) {
        let (peepholes, _) = real_constant(lowering, node, 7)?;
        if peepholes.iter().any(|&p| p != 0.0) {
            return Err(Error::node(node, "peephole weights P are not supported"));
        }
    }
    let clip = match node.attributes.get("clip") {
        None => None,
        Some(Attribute::Float(c)) if *c > 0.0 => Some(q24(*c as f64).min(i32::MAX as i64)),
        Some(other) => {
            return Err(Error::node(
                node,
                format!("clip {other:?} must be a positive float"),
            ))
        }
    };

    let (bias, recurrent_bias) = biases(lowering, node, cell, sizes)?;
    // The state lives in Model beside the arena: within the RAM budget, as i32.
    let state_len = sizes
        .states_saturating()
        .saturating_mul(2)
        .saturating_add(2 * hidden);
    crate::lower::checked_len(lowering, node, &[state_len], 4)?;
    let initial = initial_state(lowering, node, cell, sizes)?;
    let x_magnitude = x_tensor.dtype.magnitude();
    let x_shifts = row_shifts(node, &weights, sizes, |e| {
        -(e + x_tensor.exponent) + CELL_EXPONENT
    })?;
    let h_shifts = row_shifts(node, &recurrent, sizes, |e| {
        -(e + HIDDEN_EXPONENT) + CELL_EXPONENT
    })?;
    let stored = |w: &Weights| -> Result<Vec<i8>> {
        w.values
            .iter()
            .map(|&v| {
                i8::try_from(v)
                    .map_err(|_| Error::node(node, format!("weight '{}' is not int8", w.name)))
            })
            .collect()
    };
    let (w_values, r_values) = (stored(&weights)?, stored(&recurrent)?);
    // The worst case of each dot product, proven from the weights: i32 when it fits.
    let worst = |values: &[i8], per_row: usize, magnitude: u64| -> u128 {
        values
            .chunks(per_row)
            .map(|row| accumulator::worst_case(0, row.iter().map(|&w| w as i64), magnitude))
            .max()
            .unwrap_or(0)
    };
    let x_bound = worst(&w_values, input, x_magnitude);
    let h_bound = worst(&r_values, hidden, 1 << 15);
    let accumulator = Accumulator::for_bound(node, x_bound.max(h_bound), true)?;
    // Each term, brought to Q24 by a left shift, must stay within i64 (2^62).
    for (bound, shifts, what) in [(x_bound, &x_shifts, "W·x"), (h_bound, &h_shifts, "R·h")] {
        let left = shifts.iter().map(|&s| (-s).max(0)).max().unwrap_or(0);
        if left > 40 || (bound << left) > accumulator::I64_LIMIT {
            return Err(Error::node(
                node,
                format!("{what} at its exponent needs a left shift of {left} to reach 2^-24, beyond i64"),
            ));
        }
    }
    let y_name = node
        .outputs
        .first()
        .filter(|o| !o.is_empty())
        .cloned()
        .unwrap_or_else(|| format!("{}_Y", node.name));
    let (y_exponent, y_type) = y_quantization(lowering, &y_name)?;
    // A Y that nothing reads (a model that uses Y_h) keeps one step, overwritten at each:
    // the layer needs an output, not the whole sequence in the arena.
    let y_read = lowering.graph.outputs.iter().any(|o| o.name == y_name)
        || lowering
            .graph
            .nodes
            .iter()
            .any(|n| n.inputs.contains(&y_name));
    let y_steps = if y_read { steps } else { 1 };
    let state_id = lowering.new_state_id();
    let y_shape = match layout {
        0 => vec![y_steps, sizes.directions, batch, hidden],
        _ => vec![batch, y_steps, sizes.directions, hidden],
    };
    let kernel = RecurrentKernel {
        cell,
        sizes,
        reverse,
        layout: layout as usize,
        weights: w_values,
        recurrent: r_values,
        bias,
        recurrent_bias,
        x_shifts,
        h_shifts,
        clip,
        accumulator,
        state_id,
        initial,
        y_exponent,
        y_steps,
    };
    crate::lower::checked_len(lowering, node, &y_shape, y_type.bytes())?;
    let y = lowering.new_typed_tensor(&y_name, y_shape, y_exponent, None, y_type);
    let state_len = kernel.state_len();
    lowering.push_layer(node, &node.op_type, vec![x], y, Box::new(kernel));
    lowering.define(&y_name, Value::Quant(y));

    // Y_h and Y_c: the state after the last step, [D, B, H] (layout 0) or [B, D, H].
    let outputs = [
        (1, 0, HIDDEN_EXPONENT, "Y_h"),
        (2, sizes.states(), CELL_EXPONENT, "Y_c"),
    ];
    for (index, offset, exponent, what) in outputs {
        let Some(name) = node.outputs.get(index).filter(|o| !o.is_empty()) else {
            continue;
        };
        let shape = match layout {
            0 => vec![sizes.directions, batch, hidden],
            _ => vec![batch, sizes.directions, hidden],
        };
        let read = StateRead {
            state_id,
            state_len,
            offset,
            exponent,
            sizes,
            layout: layout as usize,
            shape,
        };
        lowering.define(
            name,
            Value::Pending(PendingValue {
                compute: Rc::new(read),
                bounds: Default::default(),
                node: node.clone(),
                ops: format!("{}.{what}", node.op_type),
            }),
        );
    }
    Ok(())
}

/// The exponent and type `Y` is written at: those of the QuantizeLinear that is its only
/// reader, so that it rounds once from Q24 (the QuantizeLinear then has nothing to do), else
/// the hidden state's own, int16 at `2^-15`.
fn y_quantization(lowering: &Lowering, y: &str) -> Result<(i32, QType)> {
    let readers: Vec<&Node> = lowering
        .graph
        .nodes
        .iter()
        .filter(|n| n.inputs.iter().any(|i| i == y))
        .collect();
    if let [reader] = readers[..] {
        if reader.op_type == "QuantizeLinear" && reader.domain.is_empty() {
            if let (Some(scale), zero_point) =
                (lowering.constant(reader, 1)?, lowering.constant(reader, 2)?)
            {
                let dtype = match crate::onnx::quantized_dtype(reader, zero_point)? {
                    crate::onnx::DType::I8 => Some(QType::I8),
                    crate::onnx::DType::I16 => Some(QType::I16),
                    _ => None,
                };
                if let Some(dtype) = dtype {
                    let output = reader.outputs.first().map_or(y, String::as_str);
                    return Ok((lowering.exponent(reader, output, scale, zero_point)?, dtype));
                }
            }
        }
    }
    Ok((HIDDEN_EXPONENT, QType::I16))
}

/// `activations` must be the defaults of every direction, since the tables are sigmoid and tanh.
fn check_attributes(node: &Node, cell: Cell, directions: usize) -> Result<()> {
    if let Some(attribute) = node.attributes.get("activations") {
        let defaults: Vec<&str> = (0..directions)
            .flat_map(|_| cell.activations().iter().copied())
            .collect();
        let matches = matches!(attribute, Attribute::Strings(names)
            if names.len() == defaults.len()
                && names.iter().zip(&defaults).all(|(n, d)| n.eq_ignore_ascii_case(d)));
        if !matches {
            return Err(Error::node(
                node,
                format!("activations {attribute:?}: only the defaults {defaults:?} are supported"),
            ));
        }
    }
    for name in ["activation_alpha", "activation_beta"] {
        if node.attributes.contains_key(name) {
            return Err(Error::node(
                node,
                format!("attribute {name} is not supported (the default activations take none)"),
            ));
        }
    }
    Ok(())
}

/// `sequence_lens` may only say that every sequence has all the steps.
fn check_sequence_lens(lowering: &Lowering, node: &Node, sizes: Sizes) -> Result<()> {
    if let Some(lens) = lowering.constant(node, 4)? {
        if lens.values.iter().any(|&l| l as usize != sizes.steps) {
            return Err(Error::node(
                node,
                format!(
                    "sequence_lens {:?}: only sequences of all {} steps are supported",
                    lens.values, sizes.steps
                ),
            ));
        }
    }
    Ok(())
}

/// A real value in Q24, rounded half to even.
fn q24(value: f64) -> i64 {
    (value * 2f64.powi(-CELL_EXPONENT)).round_ties_even() as i64
}

/// The Q24 bias of every row (`Wb + Rb`; for GRU with linear_before_reset, `Wb` alone on the
/// hidden gate's rows) and, for that GRU, the hidden gate's `Rb` (`[D * H]`, inside the reset
/// gate's product). A bias beyond ±128 is an error: Q24 holds it in i32.
fn biases(
    lowering: &Lowering,
    node: &Node,
    cell: Cell,
    sizes: Sizes,
) -> Result<(Vec<i64>, Vec<i64>)> {
    let rows_per_direction = sizes.gates * sizes.hidden;
    let mut bias = vec![0; sizes.rows()];
    let mut recurrent_bias = Vec::new();
    if !lowering.has_input(node, 3) {
        if matches!(
            cell,
            Cell::Gru {
                linear_before_reset: true
            }
        ) {
            recurrent_bias = vec![0; sizes.states() / sizes.batch];
        }
        return Ok((bias, recurrent_bias));
    }
    let (values, dims) = real_constant(lowering, node, 3)?;
    if dims != [sizes.directions, 2 * rows_per_direction] {
        return Err(Error::node(
            node,
            format!(
                "bias B has shape {dims:?}; expected [{}, {}]",
                sizes.directions,
                2 * rows_per_direction
            ),
        ));
    }
    let hidden_gate = 2 * sizes.hidden; // the third gate: GRU's h
    for d in 0..sizes.directions {
        let row = &values[d * 2 * rows_per_direction..(d + 1) * 2 * rows_per_direction];
        let (wb, rb) = row.split_at(rows_per_direction);
        for k in 0..rows_per_direction {
            let separate = matches!(
                cell,
                Cell::Gru {
                    linear_before_reset: true
                }
            ) && k >= hidden_gate;
            let sum = if separate { wb[k] } else { wb[k] + rb[k] };
            bias[d * rows_per_direction + k] = q24(sum);
            if separate {
                recurrent_bias.push(q24(rb[k]));
            }
        }
    }
    if let Some(b) = bias
        .iter()
        .chain(&recurrent_bias)
        .find(|b| b.unsigned_abs() > i32::MAX as u64)
    {
        return Err(Error::node(
            node,
            format!("a bias of {} is beyond ±128", *b as f64 / 2f64.powi(24)),
        ));
    }
    Ok((bias, recurrent_bias))
}

/// The state's initial values: `initial_h` in Q15, then (LSTM) `initial_c` in Q24, then the
/// scratch rows, zero. Absent initial values are zero.
fn initial_state(lowering: &Lowering, node: &Node, cell: Cell, sizes: Sizes) -> Result<Vec<i64>> {
    let mut parts: Vec<(usize, i32, i64)> = vec![(5, HIDDEN_EXPONENT, i16::MAX as i64)];
    if cell == Cell::Lstm {
        parts.push((6, CELL_EXPONENT, i32::MAX as i64));
    }
    let mut state = Vec::new();
    for (index, exponent, max) in parts {
        if !lowering.has_input(node, index) {
            state.extend(std::iter::repeat_n(0, sizes.states()));
            continue;
        }
        if let Value::Quant(_) = lowering.value(node, index)? {
            return Err(Error::node(
                node,
                format!(
                    "initial state '{}' is an activation; it must be a constant (the module keeps the state in Model: see reset_state)",
                    node.inputs[index]
                ),
            ));
        }
        let (values, dims) = real_constant(lowering, node, index)?;
        if dims != [sizes.directions, sizes.batch, sizes.hidden] {
            return Err(Error::node(
                node,
                format!(
                    "initial state '{}' has shape {dims:?}; expected [{}, {}, {}]",
                    node.inputs[index], sizes.directions, sizes.batch, sizes.hidden
                ),
            ));
        }
        state.extend(
            values.iter().map(|&v| {
                ((v * 2f64.powi(-exponent)).round_ties_even() as i64).clamp(-max - 1, max)
            }),
        );
    }
    state.extend(std::iter::repeat_n(0, scratch_len(cell, sizes)));
    Ok(state)
}

/// Scratch rows after the state: the next hidden values, and for GRU without
/// linear_before_reset the reset hidden values `r ⊙ h`.
fn scratch_len(cell: Cell, sizes: Sizes) -> usize {
    match cell {
        Cell::Gru {
            linear_before_reset: false,
        } => 2 * sizes.hidden,
        _ => sizes.hidden,
    }
}

/// The right shift that brings each row's product from `2^exponent(row)` to Q24 (negative: a
/// left shift), for weights per tensor or per row (per output channel along axis 1, shared by
/// the directions).
fn row_shifts(
    node: &Node,
    weights: &Weights,
    sizes: Sizes,
    shift: impl Fn(i32) -> i32,
) -> Result<Vec<i32>> {
    let per_direction = sizes.gates * sizes.hidden;
    let exponent_of = |row: usize| -> Result<i32> {
        match weights.axis {
            None => Ok(weights.exponents[0]),
            Some(1) if weights.exponents.len() == per_direction => Ok(weights.exponents[row % per_direction]),
            Some(axis) => Err(Error::node(
                node,
                format!(
                    "weight '{}' has {} exponents along axis {axis}; per-row exponents are one per row of axis 1",
                    weights.name,
                    weights.exponents.len()
                ),
            )),
        }
    };
    (0..sizes.rows())
        .map(|row| exponent_of(row).map(&shift))
        .collect()
}

#[derive(Debug)]
struct RecurrentKernel {
    cell: Cell,
    sizes: Sizes,
    /// Per direction, whether it runs from the last step to the first.
    reverse: Vec<bool>,
    layout: usize,
    /// W and R, `[D * G * H][I]` and `[D * G * H][H]`, gates in ONNX order.
    weights: Vec<i8>,
    recurrent: Vec<i8>,
    /// Q24, per row.
    bias: Vec<i64>,
    /// GRU with linear_before_reset: the hidden gate's `Rb`, Q24, `[D * H]`.
    recurrent_bias: Vec<i64>,
    x_shifts: Vec<i32>,
    h_shifts: Vec<i32>,
    /// Q24 bound on each gate's input (`clip`).
    clip: Option<i64>,
    accumulator: Accumulator,
    state_id: usize,
    initial: Vec<i64>,
    /// The exponent `Y` is written at.
    y_exponent: i32,
    /// The steps `Y` holds: all, or 1 when nothing reads it (each step overwrites it).
    y_steps: usize,
}

impl RecurrentKernel {
    fn state_len(&self) -> usize {
        self.initial.len()
    }
}

impl Kernel for RecurrentKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::Recurrent)
    }

    fn supports_int16(&self) -> bool {
        true
    }

    fn macs(&self) -> u64 {
        let s = self.sizes;
        (s.steps * s.batch * s.rows() * (s.input + s.hidden)) as u64
    }

    fn accumulator(&self) -> Option<Accumulator> {
        Some(self.accumulator)
    }

    fn state(&self) -> Option<StateUse> {
        Some(StateUse::Owns {
            id: self.state_id,
            initial: self.initial.clone(),
        })
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let s = self.sizes;
        let (rows, input, hidden) = (s.rows(), s.input, s.hidden);
        let values = |v: &[i8]| v.iter().map(|&w| w as i64).collect();
        let name = out.add_static("W", Elem::I8, &[rows, input], values(&self.weights));
        out.set("w", name);
        let name = out.add_static("R", Elem::I8, &[rows, hidden], values(&self.recurrent));
        out.set("r", name);
        let name = out.add_static("BIAS", Elem::I32, &[rows], self.bias.clone());
        out.set("bias", name);
        if !self.recurrent_bias.is_empty() {
            let name = out.add_static(
                "RECURRENT_BIAS",
                Elem::I32,
                &[self.recurrent_bias.len()],
                self.recurrent_bias.clone(),
            );
            out.set("recurrent_bias", name);
        }
        // A shift shared by every row is a literal; per-row shifts are a table.
        let mut shift = |suffix: &str, key: &str, shifts: &[i32]| {
            if shifts.iter().all(|&v| v == shifts[0]) {
                out.set(key, shifts[0].to_string());
            } else {
                let table = out.add_static(
                    suffix,
                    Elem::I32,
                    &[rows],
                    shifts.iter().map(|&v| v as i64).collect(),
                );
                out.set(
                    key,
                    format!("{table}.0.get(row).copied().unwrap_or_default()"),
                );
            }
        };
        shift("X_SHIFTS", "x_shift", &self.x_shifts);
        shift("H_SHIFTS", "h_shift", &self.h_shifts);
        let name = out.add_static(
            "SIGMOID",
            Elem::I32,
            &[ENTRIES],
            Activation::Sigmoid.table(),
        );
        out.set("sigmoid_table", name);
        let name = out.add_static("TANH", Elem::I32, &[ENTRIES], Activation::Tanh.table());
        out.set("tanh_table", name);
        out.set("sigmoid_bits", 24 + Activation::Sigmoid.step_exponent());
        out.set("tanh_bits", 24 + Activation::Tanh.step_exponent());
        out.set(
            "cell",
            match self.cell {
                Cell::Lstm => "lstm",
                Cell::Gru { .. } => "gru",
            },
        );
        out.set(
            "linear_before_reset",
            matches!(
                self.cell,
                Cell::Gru {
                    linear_before_reset: true
                }
            ),
        );
        out.set("steps", s.steps);
        out.set("batch", s.batch);
        out.set("input_size", input);
        out.set("hidden", hidden);
        out.set("directions", s.directions);
        out.set("gates", s.gates);
        out.set("reverse", &self.reverse);
        out.set("layout", self.layout);
        out.set("acc", if self.accumulator.wide { "i64" } else { "i32" });
        // Y is rounded from the Q24 hidden values.
        out.set("y_shift", self.y_exponent - CELL_EXPONENT);
        out.set("y_steps", self.y_steps);
        out.set("states", s.states());
        out.set("clip", self.clip);
        // Where reverse directions restart: the initial values, when any is nonzero.
        let nonzero = self.initial.iter().any(|&v| v != 0);
        out.set(
            "initial",
            nonzero.then(|| format!("STATE_{}_INITIAL", self.state_id)),
        );
        let (sigmoid_error, tanh_error) = (
            Activation::Sigmoid.max_error(),
            Activation::Tanh.max_error(),
        );
        out.describe(format!(
            "{} of {} steps, {} direction(s), batch {}, {} inputs, hidden size {}; gates in Q24, hidden state int16 at 2^-15; sigmoid and tanh interpolated from 1025-entry tables, at most {:.1e} and {:.1e} from the exact functions",
            match self.cell {
                Cell::Lstm => "LSTM".to_string(),
                Cell::Gru { linear_before_reset } => format!("GRU (linear_before_reset {})", linear_before_reset as u8),
            },
            s.steps,
            s.directions,
            s.batch,
            input,
            hidden,
            sigmoid_error / 2f64.powi(24),
            tanh_error / 2f64.powi(24),
        ));
        Ok(())
    }
}

/// `Y_h` or `Y_c`: values of the state after the last step (`offset` into it, at `2^exponent`),
/// requantized to the QuantizeLinear's exponent.
#[derive(Debug)]
struct StateRead {
    state_id: usize,
    state_len: usize,
    offset: usize,
    exponent: i32,
    sizes: Sizes,
    layout: usize,
    shape: Vec<usize>,
}

impl Pending for StateRead {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn finish(
        &self,
        _: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let kernel = StateReadKernel {
            state_id: self.state_id,
            state_len: self.state_len,
            offset: self.offset,
            shift: output_exponent - self.exponent,
            sizes: self.sizes,
            layout: self.layout,
            clamp,
        };
        Ok((Box::new(kernel), Vec::new()))
    }
}

#[derive(Debug)]
struct StateReadKernel {
    state_id: usize,
    state_len: usize,
    offset: usize,
    shift: i32,
    sizes: Sizes,
    layout: usize,
    clamp: Clamp,
}

impl Kernel for StateReadKernel {
    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::RecurrentState)
    }

    fn supports_int16(&self) -> bool {
        true
    }

    fn state(&self) -> Option<StateUse> {
        Some(StateUse::Reads {
            id: self.state_id,
            len: self.state_len,
        })
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        out.set("offset", self.offset);
        out.set("shift", self.shift);
        out.set("hidden", self.sizes.hidden);
        out.set("batch", self.sizes.batch);
        out.set("directions", self.sizes.directions);
        out.set("states", self.sizes.states());
        out.set("layout", self.layout);
        self.clamp.set(out);
        out.describe(format!(
            "the {} state after the last step, requantized by {}",
            if self.offset == 0 { "hidden" } else { "cell" },
            self.shift
        ));
        Ok(())
    }
}
