//! The scale policy pass: a [`Graph`] to [`Graph`] rewrite that runs before the lowering and
//! leaves every QuantizeLinear/DequantizeLinear with a power-of-two scale and an int8 zero
//! point 0 (int32 for biases), so that the lowering only ever meets exact exponents. It also
//! reports, tensor by tensor, what the rewrite cost ([`ScaleReport`]).
//!
//! - uint8 with zero point 128 becomes int8 holding `q - 128`, exactly, under every policy.
//! - `Exact`: any other scale or zero point is an error listing every such tensor.
//! - `Snap`: scales become `2^round(log2 s)` (or `2^ceil(log2 s)`), constants are requantized
//!   from their real values, biases land on the snapped `ex + ew` of their layer, and
//!   asymmetric tensors become symmetric over the same real range.

mod report;

pub use report::{Change, Role, ScaleIssue, ScaleProblem, ScaleReport, TensorReport};

use crate::error::{Error, Result};
use crate::onnx::{normalize_axis, quantized_dtype, Attribute, Constant, DType, Graph, Node};
use crate::quant::exponent::{ceil_exponent, covering_exponent, exact_exponent, nearest_exponent};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What to do with scales that are not powers of two and zero points that are not 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalePolicy {
    /// Refuse them (the default): the generated code is then exact against the model.
    #[default]
    Exact,
    /// Round them to powers of two, at the stated cost.
    Snap(SnapRule),
}

/// How a scale snaps to a power of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapRule {
    /// `round(log2 s)`: the smallest scale error, as the power-of-two observer does.
    #[default]
    Nearest,
    /// `ceil(log2 s)`: never a finer step, so nothing the original range held clips.
    Ceil,
}

impl SnapRule {
    fn exponent(self, scale: f64) -> i32 {
        match self {
            SnapRule::Nearest => nearest_exponent(scale),
            SnapRule::Ceil => ceil_exponent(scale),
        }
    }
}

/// Rewrites every quantization of `graph` to power-of-two int8 under `policy`; see the module
/// documentation. Under [`ScalePolicy::Exact`] a model that needs more is an
/// [`Error::Scales`] naming every offending tensor.
pub fn rewrite_scales(graph: &Graph, policy: ScalePolicy) -> Result<(Graph, ScaleReport)> {
    let groups = group_sites(graph)?;
    let mut decisions = Vec::with_capacity(groups.len());
    let mut issues = Vec::new();
    // Biases last: their exponent follows the already decided input and weight exponents.
    for pass_biases in [false, true] {
        for (index, group) in groups.iter().enumerate() {
            if (group.role == Role::Bias) != pass_biases {
                continue;
            }
            let layer_exponent = match (pass_biases, policy) {
                (true, ScalePolicy::Snap(_)) => layer_exponents(graph, &groups, &decisions, group),
                _ => None,
            };
            match decide(group, group.first_node(graph), policy, layer_exponent) {
                Ok(decision) => decisions.push((index, decision)),
                Err(mut found) => issues.append(&mut found),
            }
        }
    }
    if !issues.is_empty() {
        return Err(Error::Scales { issues });
    }
    decisions.sort_by_key(|(index, _)| *index);
    let decisions: Vec<Decision> = decisions.into_iter().map(|(_, d)| d).collect();

    let mut rewritten = graph.clone();
    let mut names = Names::of(graph);
    let mut clips = Vec::new();
    for (group, decision) in groups.iter().zip(&decisions) {
        if !decision.changes.is_empty() {
            apply(&mut rewritten, &mut names, group, decision);
            if let Some(range) = decision.clip {
                for &index in &group.nodes {
                    clips.extend(range_clip(
                        graph,
                        &mut rewritten,
                        &mut names,
                        group,
                        index,
                        range,
                    ));
                }
            }
        }
    }
    // Inserted last and from the back, so that the node positions held by groups stay valid.
    clips.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
    for (index, clip) in clips {
        rewritten.nodes.insert(index, clip);
    }
    drop_unused_constants(&mut rewritten, graph);
    let report = ScaleReport {
        tensors: groups
            .iter()
            .zip(decisions)
            .map(|(group, decision)| tensor_report(graph, group, decision))
            .collect(),
    };
    Ok((rewritten, report))
}

/// The QuantizeLinear/DequantizeLinear nodes of one integer tensor that share the same scale
/// and zero point: a Q and its DQ, or every DQ of one weight.
#[derive(Debug)]
struct Group<'g> {
    tensor: String,
    nodes: Vec<usize>,
    role: Role,
    dtype: DType,
    scale: &'g Constant,
    zero_point: Option<&'g Constant>,
    /// The constant's values (weights and biases).
    values: Option<&'g Constant>,
    /// The axis of per-channel parameters, resolved against the tensor's rank.
    axis: usize,
}

impl Group<'_> {
    /// `(scale, zero point)` of channel `c`; a single value serves every channel.
    fn parameters(&self, c: usize) -> (f64, f64) {
        let pick = |values: &[f64]| values.get(c).or(values.first()).copied();
        let zero_point = self.zero_point.and_then(|z| pick(&z.values));
        (
            pick(&self.scale.values).unwrap_or(0.0),
            zero_point.unwrap_or(0.0),
        )
    }

    /// The type the group's integers have after the pass: int32 for biases, int16 for 16-bit
    /// tensors, int8 for everything else.
    fn target(&self) -> DType {
        match (self.role, self.dtype) {
            (Role::Bias, _) => DType::I32,
            (_, DType::I16 | DType::U16) => DType::I16,
            _ => DType::I8,
        }
    }

    /// What a zero point means "zero" at: 128 for uint8 and 32768 for uint16 (whose values
    /// shift into int8 and int16), 0 otherwise.
    fn offset(&self) -> f64 {
        match self.dtype {
            DType::U8 => 128.0,
            DType::U16 => 32768.0,
            _ => 0.0,
        }
    }

    fn channels(&self) -> usize {
        self.scale
            .len()
            .max(self.zero_point.map_or(1, Constant::len))
            .max(1)
    }

    fn first_node<'a>(&self, graph: &'a Graph) -> &'a Node {
        &graph.nodes[self.nodes[0]]
    }
}

/// Collects the Q/DQ nodes with constant parameters, grouped by tensor and parameters.
/// Integer types other than int8, uint8 and int32 are left to the lowering.
fn group_sites(graph: &Graph) -> Result<Vec<Group<'_>>> {
    let mut groups: Vec<Group> = Vec::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        let quantize = match (node.domain.as_str(), node.op_type.as_str()) {
            ("" | "ai.onnx", "QuantizeLinear") => true,
            ("" | "ai.onnx", "DequantizeLinear") => false,
            _ => continue,
        };
        let constant = |i: usize| {
            node.inputs
                .get(i)
                .filter(|n| !n.is_empty())
                .and_then(|n| graph.constants.get(n))
        };
        let Some(scale) = constant(1) else {
            continue; // a dynamic scale: the lowering explains why it cannot be used
        };
        let zero_point = constant(2);
        let tensor = if quantize {
            node.outputs.first()
        } else {
            node.inputs.first()
        };
        let Some(tensor) = tensor.cloned() else {
            continue;
        };
        let values = if quantize { None } else { constant(0) };
        let dtype = match values {
            Some(v) => v.dtype,
            None if quantize => quantized_dtype(node, zero_point)?,
            None => integer_dtype_read(graph, &tensor, zero_point)?,
        };
        let role = match (values, dtype) {
            (None, _) => Role::Activation,
            (Some(_), DType::I32) => Role::Bias,
            (Some(_), _) => Role::Weight,
        };
        let supported = match role {
            Role::Bias => true,
            _ => matches!(dtype, DType::I8 | DType::U8 | DType::I16 | DType::U16),
        };
        if !supported {
            continue;
        }
        let axis = match values {
            Some(v) if scale.len() > 1 => {
                normalize_axis(node, node.attr_int("axis", 1)?, v.dims.len())?
            }
            _ => 0,
        };
        let same = |g: &Group| {
            g.tensor == tensor
                && g.scale.values == scale.values
                && g.zero_point.map(|z| &z.values) == zero_point.map(|z| &z.values)
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(group) => group.nodes.push(index),
            None => groups.push(Group {
                tensor,
                nodes: vec![index],
                role,
                dtype,
                scale,
                zero_point,
                values,
                axis,
            }),
        }
    }
    Ok(groups)
}

/// The integer type a DequantizeLinear reads from an activation: its zero point's, else what
/// the QuantizeLinear producing the tensor writes.
fn integer_dtype_read(graph: &Graph, tensor: &str, zero_point: Option<&Constant>) -> Result<DType> {
    if let Some(z) = zero_point {
        return Ok(z.dtype);
    }
    match graph.producer_of(tensor) {
        Some(q) if q.op_type == "QuantizeLinear" => {
            let zp = q.inputs.get(2).and_then(|n| graph.constants.get(n));
            quantized_dtype(q, zp)
        }
        _ => Ok(DType::U8), // the ONNX default without a zero point
    }
}

/// The pass's choice for one group.
#[derive(Debug)]
struct Decision {
    exponents: Vec<i32>,
    changes: Vec<Change>,
    /// Requantized constant values and the share that saturated.
    values: Option<(Constant, f64)>,
    clip: Option<(f64, f64)>,
}

/// The exponents `ex + ew` (one per output channel) of the Conv/ConvTranspose/Gemm whose bias
/// `group` is, from the decisions already taken for its input and weights; `None` when the
/// bias is not such a layer's or those are not quantized tensors.
fn layer_exponents(
    graph: &Graph,
    groups: &[Group],
    decisions: &[(usize, Decision)],
    bias: &Group,
) -> Option<Vec<i32>> {
    let dequantized = graph.nodes[bias.nodes[0]].outputs.first()?;
    let layer = graph.nodes.iter().find(|n| {
        n.inputs.get(2) == Some(dequantized)
            && match n.op_type.as_str() {
                "Conv" | "ConvTranspose" => true,
                // alpha and beta scale the product and the bias apart: no common exponent.
                "Gemm" => {
                    n.attr_float("alpha", 1.0).ok() == Some(1.0)
                        && n.attr_float("beta", 1.0).ok() == Some(1.0)
                }
                _ => false,
            }
    })?;
    let exponents_of = |input: usize| -> Option<&Vec<i32>> {
        let name = layer.inputs.get(input)?;
        let dq = graph
            .nodes
            .iter()
            .position(|n| n.op_type == "DequantizeLinear" && n.outputs.first() == Some(name))?;
        let group = groups.iter().position(|g| g.nodes.contains(&dq))?;
        decisions
            .iter()
            .find(|(index, _)| *index == group)
            .map(|(_, d)| &d.exponents)
    };
    let ex = match exponents_of(0)?.as_slice() {
        [ex] => *ex,
        _ => return None,
    };
    Some(exponents_of(1)?.iter().map(|ew| ex + ew).collect())
}

/// Chooses the exponents of one group under `policy`; `Err` lists what `Exact` refuses.
/// `layer_exponent` is the snapped `ex + ew` a bias must take.
fn decide(
    group: &Group,
    node: &Node,
    policy: ScalePolicy,
    layer_exponent: Option<Vec<i32>>,
) -> Result<Decision, Vec<ScaleIssue>> {
    let (qmin, qmax) = group.dtype.int_range().unwrap_or((-128, 127));
    // The zero point the values have once uint8/uint16 is shifted into int8/int16.
    let offset = group.offset();
    let target = group.target();
    let (tmin, tmax) = target.int_range().unwrap_or((-128, 127));
    let channels = group.channels();
    let symmetric = (0..channels).all(|c| group.parameters(c).1 - offset == 0.0);

    let mut issues = Vec::new();
    if !symmetric && policy == ScalePolicy::Exact {
        let zero_point = (0..channels)
            .map(|c| group.parameters(c).1)
            .find(|&z| z - offset != 0.0)
            .unwrap_or(0.0);
        issues.push(ScaleProblem::ZeroPoint {
            zero_point: zero_point as i64,
            dtype: dtype_name(group.dtype).into(),
        });
    }
    let mut not_pow2 = Vec::new();
    let mut exponents = Vec::with_capacity(channels);
    for c in 0..channels {
        let (scale, zero_point) = group.parameters(c);
        if !(scale > 0.0 && scale.is_finite()) {
            issues.push(ScaleProblem::InvalidScale { scale });
            continue;
        }
        let exponent = match (policy, exact_exponent(scale)) {
            (ScalePolicy::Snap(_), _) if !symmetric => {
                // Symmetric over the same real range: round-to-nearest could clip values the
                // model's grid holds (a uint8 ReLU output up to 255 s), so always cover it.
                let lo = (qmin as f64 - zero_point) * scale;
                let hi = (qmax as f64 - zero_point) * scale;
                covering_exponent(lo.min(0.0), hi.max(0.0), tmin, tmax)
            }
            (_, Ok(e)) => e,
            (ScalePolicy::Snap(rule), Err(_)) => rule.exponent(scale),
            (ScalePolicy::Exact, Err(e)) => {
                not_pow2.push((c, scale, e));
                e.nearest
            }
        };
        exponents.push(exponent);
    }
    if let Some(&(c, scale, e)) = not_pow2.first() {
        issues.push(ScaleProblem::NotPowerOfTwo {
            scale,
            channel: (channels > 1).then_some(c),
            channels: not_pow2.len(),
            nearest: e.nearest,
            relative_error: e.relative_error,
        });
    }
    if !issues.is_empty() {
        return Err(issues
            .into_iter()
            .map(|problem| ScaleIssue {
                tensor: group.tensor.clone(),
                node: node.name.clone(),
                op: node.op_type.clone(),
                problem,
            })
            .collect());
    }
    if let Some(layer) = layer_exponent {
        exponents = layer;
    }

    let mut changes = Vec::new();
    if matches!(group.dtype, DType::U8 | DType::U16) && symmetric {
        changes.push(Change::Uint8ToInt8);
    }
    if !symmetric {
        changes.push(Change::AsymmetricToSymmetric);
    } else if (0..exponents.len()).any(|c| 2f64.powi(exponents[c]) != group.parameters(c).0) {
        changes.push(Change::Snapped);
    }
    let values = match (group.values, changes.is_empty()) {
        (Some(values), false) => Some(requantize(group, values, &exponents, (tmin, tmax), target)),
        _ => None,
    };
    let clip = (group.role == Role::Activation && !symmetric).then(|| {
        let (scale, zero_point) = group.parameters(0);
        (
            (qmin as f64 - zero_point) * scale,
            (qmax as f64 - zero_point) * scale,
        )
    });
    Ok(Decision {
        exponents,
        changes,
        values,
        clip,
    })
}

/// A constant requantized from its real values `(q - zp) * s` to `round_half_even(w * 2^-e)`,
/// saturated to `target`, with the share of values that saturated.
fn requantize(
    group: &Group,
    values: &Constant,
    exponents: &[i32],
    (lo, hi): (i64, i64),
    target: DType,
) -> (Constant, f64) {
    let per_channel = exponents.len() > 1;
    let channel_of = crate::onnx::axis_index(&values.dims, group.axis);
    let mut saturated = 0usize;
    let requantized = values
        .values
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let c = if per_channel { channel_of(i) } else { 0 };
            let (scale, zero_point) = group.parameters(c);
            let real = (q - zero_point) * scale;
            let exponent = exponents.get(c).or(exponents.first()).copied().unwrap_or(0);
            let v = (real * 2f64.powi(-exponent)).round_ties_even();
            if v < lo as f64 || v > hi as f64 {
                saturated += 1;
            }
            v.clamp(lo as f64, hi as f64)
        })
        .collect();
    let share = saturated as f64 / values.len().max(1) as f64;
    (
        Constant {
            dtype: target,
            dims: values.dims.clone(),
            values: requantized,
        },
        share,
    )
}

/// Writes one group's decision into the graph: new scale and zero point constants shared by
/// its nodes, requantized values and an int8 output type.
fn apply(graph: &mut Graph, names: &mut Names, group: &Group, decision: &Decision) {
    let target = group.target();
    let n = decision.exponents.len();
    // A per-channel bias of a layer with per-channel weights may come with one scale.
    let dims = if n == group.scale.len() {
        group.scale.dims.clone()
    } else {
        vec![n]
    };
    let scale = names.add_constant(
        graph,
        &format!("{}_pow2_scale", group.tensor),
        Constant {
            dtype: DType::F32,
            dims: dims.clone(),
            values: decision.exponents.iter().map(|&e| 2f64.powi(e)).collect(),
        },
    );
    let zero_point = names.add_constant(
        graph,
        &format!("{}_pow2_zero_point", group.tensor),
        Constant {
            dtype: target,
            dims,
            values: vec![0.0; n],
        },
    );
    let values = match &decision.values {
        Some((values, _)) => {
            let consumers_elsewhere =
                graph.nodes.iter().enumerate().any(|(i, node)| {
                    !group.nodes.contains(&i) && node.inputs.contains(&group.tensor)
                });
            let is_output = graph.outputs.iter().any(|o| o.name == group.tensor);
            // In place when only these nodes read it, so messages and code keep its name.
            let name = if consumers_elsewhere || is_output {
                names.add_constant(graph, &format!("{}_pow2", group.tensor), values.clone())
            } else {
                graph.constants.insert(group.tensor.clone(), values.clone());
                group.tensor.clone()
            };
            Some(name)
        }
        None => None,
    };
    for &index in &group.nodes {
        let node = &mut graph.nodes[index];
        node.inputs.resize(3, String::new());
        node.inputs[1] = scale.clone();
        node.inputs[2] = zero_point.clone();
        if let Some(name) = &values {
            node.inputs[0] = name.clone();
        }
        if n > 1 && group.scale.len() <= 1 {
            node.attributes.insert("axis".into(), Attribute::Int(0));
        }
        if node.op_type == "QuantizeLinear" && node.attributes.contains_key("output_dtype") {
            let code = if target == DType::I16 {
                INT16_ONNX_CODE
            } else {
                INT8_ONNX_CODE
            };
            node.attributes
                .insert("output_dtype".into(), Attribute::Int(code));
        }
    }
}

/// `TensorProto.DataType.INT8`.
const INT8_ONNX_CODE: i64 = 3;
/// `TensorProto.DataType.INT16`.
const INT16_ONNX_CODE: i64 = 5;

/// Clips the input of an asymmetric QuantizeLinear to the real range its grid held: the
/// original saturated there (often a ReLU folded into a uint8 zero point 0), the symmetric
/// grid would not. Not needed where the input already comes from that same grid through
/// order-preserving moves, and impossible on a float graph input (the lowering quantizes
/// those directly); the report's `clip` states the range either way. Returns the Clip node to insert
/// before node `index`; the QuantizeLinear already reads its output.
fn range_clip(
    original: &Graph,
    graph: &mut Graph,
    names: &mut Names,
    group: &Group,
    index: usize,
    (lo, hi): (f64, f64),
) -> Option<(usize, Node)> {
    let node = &graph.nodes[index];
    if node.op_type != "QuantizeLinear" {
        return None;
    }
    let input = node.inputs.first().cloned()?;
    if graph.inputs.iter().any(|i| i.name == input) || already_in_range(original, group, &input) {
        return None;
    }
    let clipped = names.fresh(&format!("{input}_range_clipped"));
    let clip_name = names.fresh(&format!("{}_range_clip", node.name));
    let mut clip = Node {
        name: clip_name,
        op_type: "Clip".into(),
        domain: String::new(),
        inputs: vec![input],
        outputs: vec![clipped.clone()],
        attributes: BTreeMap::new(),
    };
    // The bounds in f32, as ONNX Runtime would hold them.
    let (lo, hi) = ((lo as f32) as f64, (hi as f32) as f64);
    if graph.opset < 11 {
        clip.attributes
            .insert("min".into(), Attribute::Float(lo as f32));
        clip.attributes
            .insert("max".into(), Attribute::Float(hi as f32));
    } else {
        for (suffix, value) in [("min", lo), ("max", hi)] {
            let name = names.add_constant(
                graph,
                &format!("{}_range_{suffix}", group.tensor),
                Constant::scalar(DType::F32, value),
            );
            clip.inputs.push(name);
        }
    }
    graph.nodes[index].inputs[0] = clipped;
    Some((index, clip))
}

/// Whether `tensor` is a DequantizeLinear output of the group's own tensor (same parameters),
/// moved by ops that only reorder or pick values: then it is already inside the range.
fn already_in_range(graph: &Graph, group: &Group, tensor: &str) -> bool {
    const ORDER_PRESERVING: [&str; 7] = [
        "MaxPool",
        "Flatten",
        "Reshape",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Identity",
    ];
    let mut current = tensor.to_string();
    while let Some(producer) = graph.producer_of(&current) {
        if ORDER_PRESERVING.contains(&producer.op_type.as_str()) {
            let Some(next) = producer.inputs.first() else {
                return false;
            };
            current = next.clone();
            continue;
        }
        if producer.op_type != "DequantizeLinear" {
            return false;
        }
        let constant = |i: usize| producer.inputs.get(i).and_then(|n| graph.constants.get(n));
        return constant(1).map(|c| &c.values) == Some(&group.scale.values)
            && constant(2).map(|c| &c.values) == group.zero_point.map(|z| &z.values);
    }
    false
}

/// Tensor and node names in use, so that new ones never collide.
struct Names {
    used: BTreeSet<String>,
}

impl Names {
    fn of(graph: &Graph) -> Names {
        let mut used: BTreeSet<String> = graph.constants.keys().cloned().collect();
        used.extend(graph.inputs.iter().map(|i| i.name.clone()));
        for node in &graph.nodes {
            used.insert(node.name.clone());
            used.extend(node.outputs.iter().cloned());
        }
        Names { used }
    }

    /// `base`, or `base_2`, `base_3`, ... when taken.
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 1;
        while self.used.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.used.insert(name.clone());
        name
    }

    /// Adds a constant under a fresh name derived from `base` and returns the name.
    fn add_constant(&mut self, graph: &mut Graph, base: &str, constant: Constant) -> String {
        let name = self.fresh(base);
        graph.constants.insert(name.clone(), constant);
        name
    }
}

/// Removes constants of the original graph that no node reads any more (replaced scales and
/// zero points), so that the rewritten graph holds only what it uses.
fn drop_unused_constants(rewritten: &mut Graph, original: &Graph) {
    let read: BTreeSet<&String> = rewritten.nodes.iter().flat_map(|n| &n.inputs).collect();
    let outputs: BTreeSet<&String> = rewritten.outputs.iter().map(|o| &o.name).collect();
    let unused: Vec<String> = original
        .constants
        .keys()
        .filter(|name| !read.contains(name) && !outputs.contains(name))
        .filter(|name| original.nodes.iter().any(|n| n.inputs.contains(name)))
        .cloned()
        .collect();
    for name in unused {
        rewritten.constants.remove(&name);
    }
}

fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::I8 => "int8",
        DType::U8 => "uint8",
        DType::I16 => "int16",
        DType::U16 => "uint16",
        DType::I32 => "int32",
        DType::I64 => "int64",
        DType::F32 => "float32",
        DType::F64 => "float64",
        DType::Bool => "bool",
    }
}

fn tensor_report(graph: &Graph, group: &Group, decision: Decision) -> TensorReport {
    let shape = match group.values {
        Some(v) => Some(v.dims.clone()),
        None => graph
            .declared_shapes
            .get(&group.tensor)
            .cloned()
            .or_else(|| {
                // The quantized graph input has the input's shape.
                let input = group.first_node(graph).inputs.first()?;
                graph
                    .inputs
                    .iter()
                    .find(|i| &i.name == input)?
                    .shape
                    .clone()
            }),
    };
    let channels = group.channels();
    let relative_errors = decision
        .exponents
        .iter()
        .enumerate()
        .map(|(c, &e)| {
            let scale = group.parameters(if channels > 1 { c } else { 0 }).0;
            (2f64.powi(e) - scale) / scale
        })
        .collect();
    TensorReport {
        tensor: group.tensor.clone(),
        nodes: group
            .nodes
            .iter()
            .map(|&i| graph.nodes[i].name.clone())
            .collect(),
        role: group.role,
        dtype: dtype_name(group.dtype).into(),
        shape,
        scales: (0..channels).map(|c| group.parameters(c).0).collect(),
        zero_points: (0..channels)
            .map(|c| group.parameters(c).1 as i64)
            .collect(),
        exponents: decision.exponents,
        relative_errors,
        saturated: decision
            .values
            .map(|(_, share)| share)
            .or(match group.role {
                Role::Activation => None,
                _ => Some(0.0),
            }),
        changes: decision.changes,
        clip: decision.clip,
    }
}

#[cfg(test)]
mod tests;
