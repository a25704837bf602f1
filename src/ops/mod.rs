//! Operators. Each family lives in one file with its shape rule, its lowering from ONNX nodes
//! and its emit context; the kernel code itself is a template under `templates/`.

mod activation;
mod concat;
mod conv;
mod conv_transpose;
mod custom;
mod dense;
mod elementwise;
mod gather;
mod layout;
mod lp_norm;
mod matmul;
mod normalization;
mod pool;
mod quantize;
mod reduce;
mod resize;
mod scatter;
pub mod size;
mod softmax;
mod table;
mod tile;
mod window;

use crate::emit::KernelEmit;
use crate::error::{Error, Result};
use crate::ir::QType;
use crate::onnx::Node;
use crate::quant::accumulator::Accumulator;
use crate::quant::Lowering;
pub use size::{checked_len, checked_table};

/// A layer's code generator: fills the context of its template.
pub trait Kernel: std::fmt::Debug {
    /// The template under `templates/` that renders this kernel.
    fn template(&self) -> &'static str;
    /// Sets the template variables and registers weight statics.
    fn emit(&self, out: &mut KernelEmit) -> Result<()>;
    /// Multiply-accumulates per inference, for the header table.
    fn macs(&self) -> u64 {
        0
    }
    /// The requantization shift, for the header table (`None` when it differs per channel).
    fn shift(&self) -> Option<i32> {
        None
    }
    /// Whether the template handles int16 inputs and outputs (`out_ty`, `inputs[i].dtype`).
    fn supports_int16(&self) -> bool {
        false
    }
    /// Whether output element `i` is computed from element `i` of the layer's one tensor
    /// input alone (constants aside). Such a layer can overwrite its input when the input
    /// dies there: the memory plan then runs it in place, and its template gets `in_place`
    /// and one buffer, `data`, for both.
    fn pointwise(&self) -> bool {
        false
    }
    /// The requantization shift of each output channel, for layers with per-channel weights.
    fn channel_shifts(&self) -> Option<&Shifts> {
        None
    }
    /// The worst-case `|acc|` of an accumulating layer and whether it needs i64, proven at
    /// codegen from the real weights and bias and the input range.
    fn accumulator(&self) -> Option<Accumulator> {
        None
    }
}

/// An integer computation whose float result still waits for the QuantizeLinear that fixes
/// its output exponent (the `op → QuantizeLinear` half of a QDQ pattern).
pub trait Pending: std::fmt::Debug {
    fn output_shape(&self) -> &[usize];
    /// Builds the kernel once the output exponent and the fused clamp (in the output's
    /// integer domain) are known. Returns the kernel and its input tensors.
    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<crate::ir::TensorId>)>;
    /// A unary table op's input and real function, so that `x * f(x)` (Swish) can become one
    /// table; `None` for everything else.
    fn unary_function(&self) -> Option<(crate::ir::TensorId, table::RealFunction)> {
        None
    }
    /// The activation whose values this computation keeps, unrounded (Relu/Clip of an
    /// activation): it can then be materialized at that tensor's exponent and type when an op
    /// needs an activation before any QuantizeLinear (ONNX Runtime's QOperator models run
    /// MaxPool on the float Relu output). `None` for everything that rounds.
    fn exact_source(&self) -> Option<crate::ir::TensorId> {
        None
    }
}

/// Bounds fused from Relu/Clip, in real values; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RealBounds {
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl RealBounds {
    /// Intersects with another bound (Relu after Clip and so on).
    pub fn and(self, other: RealBounds) -> RealBounds {
        let pick = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        RealBounds {
            lo: pick(self.lo, other.lo, f64::max),
            hi: pick(self.hi, other.hi, f64::min),
        }
    }

    /// The bounds in the int8 domain of exponent `e`. Quantization is monotone (in either
    /// rounding mode), so clamping after it equals clipping before it.
    pub fn to_int8(self, exponent: i32, rounding: crate::quant::Rounding) -> Clamp {
        self.to_domain(exponent, QType::I8, rounding)
    }

    /// The bounds in the integer domain of exponent `e` and type `dtype`.
    pub fn to_domain(self, exponent: i32, dtype: QType, rounding: crate::quant::Rounding) -> Clamp {
        let q = |v: f64| crate::quant::quantize_real_to(v, exponent, dtype, rounding);
        let (min, max) = dtype.range();
        Clamp {
            lo: self.lo.map_or(min, q),
            hi: self.hi.map_or(max, q),
            dtype,
        }
    }
}

/// A clamp in an output's integer domain; the type's full range means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamp {
    pub lo: i64,
    pub hi: i64,
    pub dtype: QType,
}

impl Clamp {
    pub const NONE: Clamp = Clamp {
        lo: -128,
        hi: 127,
        dtype: QType::I8,
    };

    pub fn none(dtype: QType) -> Clamp {
        let (lo, hi) = dtype.range();
        Clamp { lo, hi, dtype }
    }

    pub fn is_none(self) -> bool {
        (self.lo, self.hi) == self.dtype.range()
    }

    /// The bounds as int8, for kernels that only produce int8.
    pub fn int8(self) -> (i8, i8) {
        let narrow = |v: i64| v.clamp(-128, 127) as i8;
        (narrow(self.lo), narrow(self.hi))
    }

    /// Template variables: `clamp_lo` / `clamp_hi`, absent when there is no clamp, and
    /// `clamp`, the method call to append to an output expression (`.clamp(0, 6)`, `.max(0)`,
    /// or nothing), with no side that saturation to the output type already gives.
    pub fn set(self, out: &mut KernelEmit) {
        if !self.is_none() {
            out.set("clamp_lo", self.lo);
            out.set("clamp_hi", self.hi);
        }
        let (min, max) = self.dtype.range();
        let call = match (self.lo > min, self.hi < max) {
            // Ord::clamp asserts lo <= hi; a Clip with min > max (ONNX: the result is max)
            // keeps the two calls, which never panic.
            (true, true) if self.lo <= self.hi => format!(".clamp({}, {})", self.lo, self.hi),
            (true, true) => format!(".max({}).min({})", self.lo, self.hi),
            (true, false) => format!(".max({})", self.lo),
            (false, true) => format!(".min({})", self.hi),
            (false, false) => String::new(),
        };
        out.set("clamp", call);
    }
}

/// The requantization shifts `ey - ex - ew[c]` of an accumulating layer's output channels:
/// all equal for per-tensor weights, one per channel for per-channel weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shifts(Vec<i32>, Vec<i32>);

impl Shifts {
    pub fn new(output_exponent: i32, acc_exponents: &[i32]) -> Shifts {
        Shifts(
            acc_exponents.iter().map(|e| output_exponent - e).collect(),
            Vec::new(),
        )
    }

    /// These shifts with each channel's float-bias fraction (see
    /// [`crate::quant::float_bias::fraction`]; none when empty), for a layer requantized by
    /// `requantize_f32_sum_*`: [`Shifts::set`] then passes each channel's step
    /// `fraction << 5 | shift` (shifts are 1..=31, fractions below 2^25).
    pub fn with_f32_sum_fractions(self, fractions: Vec<i32>) -> Shifts {
        Shifts(self.0, fractions)
    }

    /// The one shift of every channel, if they agree.
    pub fn uniform(&self) -> Option<i32> {
        let first = *self.0.first()?;
        self.0.iter().all(|&s| s == first).then_some(first)
    }

    /// These shifts, when they differ between channels.
    pub fn per_channel(&self) -> Option<&Shifts> {
        self.uniform().is_none().then_some(self)
    }

    /// The shift of each channel.
    pub fn values(&self) -> &[i32] {
        &self.0
    }

    /// Template variables: `shift`, a literal when the channels agree. Otherwise `shifts`
    /// names an `[i8; C]` static that the template zips with its output channels, binding
    /// `shift`, and `shift` is `i32::from(*shift)`. Clamping to the i8 range changes nothing: the
    /// requantize helpers cap shifts at 63 and -32 themselves.
    pub fn set(&self, out: &mut KernelEmit) {
        if !self.1.is_empty() {
            let steps = self.0.iter().zip(&self.1);
            let values = steps.map(|(&s, &f)| (i64::from(f) << 5) | i64::from(s & 31));
            let name = out.add_static(
                "STEPS",
                crate::emit::Elem::I32,
                &[self.0.len()],
                values.collect(),
            );
            out.set("shifts", name);
            out.set("shift", "*shift");
            return;
        }
        match self.uniform() {
            Some(shift) => out.set("shift", shift),
            None => {
                let values = self.0.iter().map(|&s| s.clamp(-128, 127) as i64).collect();
                let name = out.add_static("SHIFTS", crate::emit::Elem::I8, &[self.0.len()], values);
                out.set("shifts", name);
                out.set("shift", "i32::from(*shift)");
            }
        }
    }

    /// `shift 7`, or `shifts 5..9 per channel`, for the layer's doc comment.
    pub fn describe(&self) -> String {
        match self.uniform() {
            Some(shift) => format!("shift {shift}"),
            None => format!("shifts {} per channel", self.range()),
        }
    }

    /// `min..max` of the shifts.
    pub fn range(&self) -> String {
        let (lo, hi) = (self.0.iter().min(), self.0.iter().max());
        format!("{}..{}", lo.unwrap_or(&0), hi.unwrap_or(&0))
    }
}

type LowerFn = fn(&mut Lowering, &Node) -> Result<()>;

/// A supported ONNX operator: its lowering, the constraints on its use, and the fixtures
/// that test it (paths under `codegen-tests/models/`, without `.onnx`). The operator table of docs/operators.md is rendered
/// from this list ([`operator_table_markdown`]) and a test keeps the two equal.
pub struct Operator {
    pub name: &'static str,
    pub constraints: &'static str,
    pub fixtures: &'static [&'static str],
    /// `None`: a QOperator op, rewritten into QDQ at load (`src/onnx/qoperator.rs`), which
    /// the lowering never sees.
    lower: Option<LowerFn>,
}

const fn op(
    name: &'static str,
    lower: LowerFn,
    constraints: &'static str,
    fixtures: &'static [&'static str],
) -> Operator {
    rewritten(name, constraints, fixtures).lowered_by(lower)
}

/// A QOperator op: rewritten into QDQ at load, so it has no lowering of its own.
const fn rewritten(
    name: &'static str,
    constraints: &'static str,
    fixtures: &'static [&'static str],
) -> Operator {
    Operator {
        name,
        constraints,
        fixtures,
        lower: None,
    }
}

impl Operator {
    const fn lowered_by(self, lower: LowerFn) -> Operator {
        Operator {
            lower: Some(lower),
            ..self
        }
    }
}

const TABLE_CONSTRAINT: &str =
    "256-entry int8 table, f in f64; may differ from ONNX Runtime's f32 by 1 LSB";

/// Every operator the lowering implements, in the order of the docs/operators.md table (one line each).
#[rustfmt::skip]
pub const OPERATORS: &[Operator] = &[
    op("QuantizeLinear", quantize::lower_quantize, "int8, or int16 (opset 21); power-of-two per-tensor scale, zero point 0; between int8 and int16 a requantizing shift", &["digits_esppq", "digits_qat", "ops/int16_requantize_chain", "ops/int16_reshape_clip", "ops/in_place_chain"]),
    op("DequantizeLinear", quantize::lower_dequantize, "int8 or int16 activations; int8/int32 constants; per channel (axis, 1-D power-of-two scale) for the weights and biases of Conv, ConvTranspose, Gemm and MatMul", &["digits_esppq", "digits_qat", "ops/conv2d_per_channel"]),
    op("Conv", conv::lower, "1-D and 2-D; any groups (depthwise); pads, auto_pad, strides, dilations; int8 or int16 activations; constant int8 weights, per tensor or per output channel; i64 accumulator when the worst case exceeds i32", &["ops/conv2d_pointwise_per_channel", "ops/int16_conv_relu", "ops/int8_conv_to_int16", "ops/conv1d_pads_stride", "ops/conv1d_depthwise_dilated", "digits_esppq", "digits_qat", "kws1d_esppq", "residual_cnn_esppq", "ops/conv2d_same_upper_stride2", "ops/conv2d_grouped_dilated", "ops/conv2d_per_channel", "ops/conv1d_depthwise_per_channel", "ops/conv2d_grouped_per_channel", "ops/conv2d_wide_accumulator", "ops/conv2d_depthwise_multiplier", "ops/conv2d_wide_kernel_pads", "ops/conv1d_wide_kernel"]),
    op("ConvTranspose", conv_transpose::lower, "1-D and 2-D; any groups; explicit pads, strides, dilations, output_padding (no output_shape); weights per tensor or per channel along axis 1", &["ops/conv_transpose_stride2", "ops/conv_transpose1d_groups", "ops/conv_transpose_per_channel"]),
    op("Gemm", dense::lower, "constant 2-D int8 weight, per tensor or per output feature; transA, transB; power-of-two alpha, and beta (power of two for an int32 C); int8 or int16 activations", &["ops/int16_gemm_to_int8", "ops/gemm_trans_alpha_beta", "ops/gemm_per_channel_trans_b", "digits_esppq", "digits_qat", "kws1d_esppq", "residual_cnn_esppq"]),
    op("MatMul", dense::lower, "activation (int8 or int16) × constant 2-D int8 weight (per tensor or per output feature), or int8 activation × activation with broadcast batch dims", &["ops/int16_matmul_i64", "ops/matmul_batched", "ops/matmul_weight", "ops/matmul_per_channel"]),
    op("Add", elementwise::lower, "two activations, or one and a DequantizeLinear constant; numpy broadcasting; the aligned operands within 2^24 (exponents at most 16 apart for int8)", &["ops/add_constant_int32", "ops/add_broadcast_channel", "ops/add_broadcast_both", "digits_esppq", "residual_cnn_esppq", "ops/in_place_chain"]),
    op("Sub", elementwise::lower, "as Add", &["ops/sub_constant_first", "ops/sub_same_shape", "ops/sub_broadcast_rank", "ops/in_place_chain"]),
    op("Mul", elementwise::lower, "two activations, or one and a DequantizeLinear constant; numpy broadcasting; x * f(x) of a table op (Swish) fuses into one table", &["ops/mul_constant_int8", "ops/swish_fused", "ops/swish_qdq", "ops/mul_same_shape", "ops/mul_broadcast"]),
    op("Div", elementwise::lower, "two activations, numpy broadcasting; ea - eb - ey >= -8, so that it is exact", &["ops/div_broadcast"]),
    op("Mod", elementwise::lower, "fmod = 1 (float semantics), two activations, numpy broadcasting; exponents at most 16 apart", &["ops/mod_fmod"]),
    op("Equal", elementwise::lower, "two activations, broadcasting; the boolean must be Cast to float and quantized", &["ops/compare_equal"]),
    op("Greater", elementwise::lower, "as Equal", &["ops/compare_greater"]),
    op("GreaterOrEqual", elementwise::lower, "as Equal", &["ops/compare_greater_or_equal"]),
    op("Less", elementwise::lower, "as Equal", &["ops/compare_less"]),
    op("LessOrEqual", elementwise::lower, "as Equal", &["ops/compare_less_or_equal"]),
    op("Cast", layout::lower, "to float only, of an activation or a comparison; no code", &["ops/compare_equal"]),
    op("Concat", concat::lower, "activations at any exponents (requantized to the output's)", &["ops/concat_mixed_exponents", "ops/concat_last_axis", "kws1d_esppq"]),
    op("Relu", activation::lower, "fused into the preceding layer, or into the requantization after it", &["ops/conv1d_depthwise_dilated", "digits_esppq", "digits_qat"]),
    op("Clip", activation::lower, "constant bounds (float, or DequantizeLinear as ESP-PPQ writes them); fused into the preceding layer, or into the requantization after it", &["residual_cnn_esppq", "ops/conv2d_grouped_dilated", "ops/clip_standalone", "ops/in_place_chain"]),
    op("LeakyRelu", table::lower, "256-entry table, slope * x in f32 as ONNX Runtime (exact)", &["ops/leaky_relu", "kws1d_esppq", "ops/in_place_chain"]),
    op("PRelu", table::lower, "one slope or one per channel (float or int8 DequantizeLinear); a table per channel (exact)", &["ops/prelu_per_channel", "ops/prelu_quantized_slope"]),
    op("MaxPool", pool::lower, "1-D and 2-D; pads, strides, dilations, ceil_mode; no Indices output", &["ops/relu_then_maxpool_in_float", "ops/maxpool1d", "digits_qat", "kws1d_esppq", "ops/maxpool2d_ceil_dilated"]),
    op("AveragePool", pool::lower, "1-D and 2-D; pads, strides, ceil_mode, count_include_pad", &["ops/avgpool1d_ceil", "kws1d_esppq", "ops/avgpool2d_count_include_pad", "ops/avgpool2d_exclude_pad_ceil"]),
    op("GlobalAveragePool", pool::lower, "1-D and 2-D", &["digits_esppq", "residual_cnn_esppq", "ops/global_average_pool1d"]),
    op("GlobalMaxPool", pool::lower, "1-D and 2-D", &["ops/global_max_pool"]),
    op("ReduceSum", reduce::lower, "constant axes, keepdims", &["ops/reduce_sum"]),
    op("ReduceMean", reduce::lower, "constant axes, keepdims; N * 2^(ey - ex) <= 4096, so that it is exact", &["ops/reduce_mean"]),
    op("ReduceMax", reduce::lower, "constant axes, keepdims", &["ops/reduce_max"]),
    op("ReduceMin", reduce::lower, "constant axes, keepdims", &["ops/reduce_min"]),
    op("ReduceSumSquare", reduce::lower, "constant axes, keepdims", &["ops/reduce_sum_square"]),
    op("ReduceL1", reduce::lower, "constant axes, keepdims", &["ops/reduce_l1"]),
    op("ReduceL2", reduce::lower, "constant axes, keepdims; exact integer square root; may differ from ONNX Runtime's f32 by 1 LSB", &["ops/reduce_l2"]),
    op("ReduceProd", reduce::lower, "constant axes, keepdims; at most 4 reduced elements, so that ONNX Runtime's f32 product rounds once (exact)", &["ops/reduce_prod"]),
    op("ReduceLogSum", reduce::lower, "constant axes, keepdims; a table of ln over the 127 N positive sums, f in f64; may differ from ONNX Runtime's f32 by 1 LSB", &["ops/reduce_log_sum"]),
    op("ReduceLogSumExp", reduce::lower, "constant axes, keepdims; exp table in Q24 as Softmax, ln in f64; may differ from ONNX Runtime's f32 by 1 LSB", &["ops/reduce_log_sum_exp"]),
    op("Softmax", softmax::lower, "int8 output; exp table in Q24 and an exact integer division; may differ from ONNX Runtime's f32 by 1 LSB", &["ops/softmax_last_axis", "ops/softmax_channels"]),
    op("LogSoftmax", softmax::lower, "Softmax's exp table and sum, ln in f64, quantized from f32; may differ from ONNX Runtime's f32 by 1 LSB", &["ops/log_softmax_last_axis", "ops/log_softmax_channels"]),
    op("LayerNormalization", normalization::lower, "stash_type 1; at most 1024 normalised elements; constant scale and bias (float or DequantizeLinear); f32 in ONNX Runtime's order of operations with a correctly rounded square root (exact)", &["ops/layer_norm_last_axis", "ops/layer_norm_channels_no_bias"]),
    op("RMSNormalization", normalization::lower, "opset 23; as LayerNormalization", &["ops/rms_norm"]),
    op("LpNormalization", lp_norm::lower, "p 1 or 2, any axis; at most 1024 (p 2) or 131072 (p 1) elements along it; f32 as ONNX Runtime with a correctly rounded square root, 0 for a zero norm (exact)", &["ops/lp_norm_p2_last_axis", "ops/lp_norm_p2_middle_axis", "ops/lp_norm_p1_channels"]),
    op("Pow", table::lower, "constant scalar exponent; 256-entry int8 table, f in f64", &["ops/pow_square", "ops/pow_cube"]),
    op("Sigmoid", table::lower, TABLE_CONSTRAINT, &["ops/sigmoid", "residual_cnn_esppq"]),
    op("Tanh", table::lower, TABLE_CONSTRAINT, &["ops/tanh", "kws1d_esppq"]),
    op("HardSigmoid", table::lower, TABLE_CONSTRAINT, &["ops/hard_sigmoid"]),
    op("HardSwish", table::lower, TABLE_CONSTRAINT, &["ops/hard_swish"]),
    op("Elu", table::lower, TABLE_CONSTRAINT, &["ops/elu"]),
    op("Exp", table::lower, TABLE_CONSTRAINT, &["ops/exp"]),
    op("Log", table::lower, TABLE_CONSTRAINT, &["ops/log"]),
    op("Sqrt", table::lower, TABLE_CONSTRAINT, &["ops/sqrt"]),
    op("Softplus", table::lower, TABLE_CONSTRAINT, &["ops/softplus"]),
    op("Neg", table::lower, "256-entry int8 table (exact)", &["ops/neg", "ops/in_place_chain"]),
    op("Erf", table::lower, TABLE_CONSTRAINT, &["ops/erf"]),
    op("Gelu", table::lower, "approximate none or tanh (opset 20); 256-entry int8 table, f in f64", &["ops/gelu"]),
    op("Flatten", layout::lower, "no code: a view", &["digits_esppq", "digits_qat", "kws1d_esppq", "residual_cnn_esppq"]),
    op("Reshape", layout::lower, "constant shape; no code: a view", &["kws1d_esppq"]),
    op("Identity", layout::lower, "no code", &["digits_qat"]),
    op("Squeeze", layout::lower, "no code: a view", &["ops/squeeze_unsqueeze"]),
    op("Unsqueeze", layout::lower, "no code: a view", &["ops/squeeze_unsqueeze"]),
    op("Transpose", gather::lower, "any permutation; an index table", &["ops/transpose"]),
    op("Slice", gather::lower, "constant starts/ends/axes/steps, negative steps; an index table", &["ops/slice_steps"]),
    op("Split", gather::lower, "constant sizes or equal parts; an index table per output", &["ops/split"]),
    op("Pad", gather::lower, "constant pads; constant, reflect or edge mode; an index table", &["ops/pad_constant", "ops/pad_reflect", "ops/pad_edge"]),
    op("Gather", gather::lower, "constant indices (negative allowed); an index table", &["ops/gather_constant"]),
    op("DepthToSpace", gather::lower, "DCR and CRD; an index table", &["ops/depth_to_space_dcr", "ops/depth_to_space_crd"]),
    op("SpaceToDepth", gather::lower, "an index table", &["ops/space_to_depth"]),
    op("ReverseSequence", gather::lower, "constant sequence_lens; batch_axis and time_axis 0 and 1; an index table", &["ops/reverse_sequence_time_major", "ops/reverse_sequence_batch_major"]),
    op("ScatterND", scatter::lower, "reduction none; constant indices (negative allowed, no repeats); updates an activation or a constant (float or DequantizeLinear); data and updates requantized to the output's exponent", &["ops/scatter_nd_slices", "ops/scatter_nd_rows_constant_updates", "ops/scatter_nd_elements"]),
    op("Resize", resize::lower, "opset 10+, constant scales or sizes, no antialias/axes; nearest: every coordinate transformation and nearest mode, an index table; linear: NCL or NCHW with N and C unscaled, half_pixel, pytorch_half_pixel, asymmetric or align_corners, ONNX Runtime's f32 weights (exact in integers when dyadic, else its f32 operations in its order)", &["ops/resize_nearest_half_pixel", "ops/resize_nearest_asymmetric", "ops/resize_nearest_opset10", "ops/resize_linear_half_pixel_2x", "ops/resize_linear_align_corners", "ops/resize_linear_asymmetric", "ops/resize_linear_scale_1_5", "ops/resize_linear_downscale_sizes", "ops/resize_linear_1d", "ops/resize_linear_1d_pytorch_half_pixel", "ops/resize_linear_opset10"]),
    rewritten("QLinearConv", "QOperator format, rewritten into DequantizeLinear → Conv → QuantizeLinear; int32 bias at x_scale × w_scale; as Conv", &["ops/qlinear_conv_bias_pads_stride", "ops/qlinear_conv_grouped_dilated", "ops/qoperator_chain"]),
    rewritten("QLinearMatMul", "rewritten into QDQ MatMul; as MatMul", &["ops/qlinear_matmul_weight", "ops/qlinear_matmul_two_inputs"]),
    rewritten("QGemm", "com.microsoft; rewritten into QDQ Gemm with beta = alpha (int32 C at a_scale × b_scale); transA, transB, alpha as Gemm; y_scale required", &["ops/qgemm_trans_b_alpha_bias", "ops/qgemm_trans_a", "ops/qoperator_chain"]),
    rewritten("QLinearAdd", "com.microsoft; rewritten into QDQ Add; as Add", &["ops/qlinear_add_broadcast", "ops/qlinear_add_constant"]),
    rewritten("QLinearMul", "com.microsoft; rewritten into QDQ Mul; as Mul", &["ops/qlinear_mul"]),
    rewritten("QLinearGlobalAveragePool", "com.microsoft; rewritten into QDQ GlobalAveragePool; channels_last = 1 as Transpose, pool, Reshape (needs the input's rank from value_info or a graph input)", &["ops/qlinear_global_average_pool", "ops/qlinear_global_average_pool_ties", "ops/qlinear_global_average_pool_channels_last"]),
    rewritten("QLinearAveragePool", "com.microsoft; rewritten into QDQ AveragePool; channels_last = 0; as AveragePool", &["ops/qlinear_average_pool", "ops/qlinear_average_pool_exclude_pad"]),
    rewritten("QLinearSigmoid", "com.microsoft; rewritten into QDQ Sigmoid; as Sigmoid", &["ops/qlinear_sigmoid"]),
    rewritten("QLinearLeakyRelu", "com.microsoft; rewritten into QDQ LeakyRelu; as LeakyRelu", &["ops/qlinear_leaky_relu"]),
    rewritten("QLinearConcat", "com.microsoft; rewritten into QDQ Concat; as Concat", &["ops/qlinear_concat"]),
    rewritten("ConvInteger", "only as ONNX Runtime writes it: input from a static QuantizeLinear, output only through Cast to float and Mul by the constant scale product (or a Mul of two constant scales); constant weight; rewritten into QDQ Conv", &["ops/conv_integer"]),
    rewritten("MatMulInteger", "as ConvInteger; rewritten into QDQ MatMul", &["ops/matmul_integer"]),
];

/// The names of the supported operators.
pub fn supported_ops() -> impl Iterator<Item = &'static str> {
    OPERATORS.iter().map(|o| o.name)
}

fn operator(op_type: &str) -> Option<&'static Operator> {
    OPERATORS.iter().find(|o| o.name == op_type)
}

/// The operator table of docs/operators.md, in Markdown.
pub fn operator_table_markdown() -> String {
    let mut table = String::from("| op | constraints | fixtures |\n|---|---|---|\n");
    for o in OPERATORS {
        let fixtures: Vec<String> = o.fixtures.iter().map(|f| format!("`{f}`")).collect();
        table.push_str(&format!(
            "| {} | {} | {} |\n",
            o.name,
            o.constraints,
            fixtures.join(", ")
        ));
    }
    table
}

/// Whether the node's op has a built-in kernel (default domain, listed in [`OPERATORS`]).
pub fn is_builtin(node: &Node) -> bool {
    (node.domain.is_empty() || node.domain == "ai.onnx")
        && operator(&node.op_type).is_some_and(|o| o.lower.is_some())
}

/// Lowers one ONNX node into the IR (or into a pending value, a constant or an alias).
/// Ops without a built-in kernel are custom layers when the user has a template for them.
pub fn lower_node(lowering: &mut Lowering, node: &Node) -> Result<()> {
    if !is_builtin(node) {
        let template = lowering
            .templates
            .user_template(&node.domain, &node.op_type)
            .ok_or_else(|| Error::node(node, "no built-in kernel and no template"))?
            .to_string();
        return custom::lower(lowering, node, &template);
    }
    if let Some(max) = max_inputs(&node.op_type) {
        if node.inputs.len() > max {
            return Err(Error::node(
                node,
                format!(
                    "{} inputs, where {} takes at most {max}",
                    node.inputs.len(),
                    node.op_type
                ),
            ));
        }
    }
    match operator(&node.op_type).and_then(|o| o.lower) {
        Some(lower) => lower(lowering, node),
        None => Err(Error::node(
            node,
            format!("operator {} is not supported", node.op_type),
        )),
    }
}

/// The most inputs the ONNX schema gives a built-in op (`None`: variadic), so that extra
/// inputs are refused rather than ignored.
fn max_inputs(op_type: &str) -> Option<usize> {
    Some(match op_type {
        "Concat" => return None,
        "Relu" | "LeakyRelu" | "Sigmoid" | "Tanh" | "HardSigmoid" | "HardSwish" | "Elu" | "Exp"
        | "Log" | "Sqrt" | "Softplus" | "Neg" | "Erf" | "Gelu" | "Cast" | "Flatten"
        | "Identity" | "Transpose" | "DepthToSpace" | "SpaceToDepth" | "Softmax" | "LogSoftmax"
        | "LpNormalization" | "MaxPool" | "AveragePool" | "GlobalAveragePool" | "GlobalMaxPool" => {
            1
        }
        "MatMul" | "Add" | "Sub" | "Mul" | "Div" | "Mod" | "Equal" | "Greater"
        | "GreaterOrEqual" | "Less" | "LessOrEqual" | "PRelu" | "Pow" | "Reshape" | "Squeeze"
        | "Unsqueeze" | "Split" | "Gather" | "ReverseSequence" | "RMSNormalization" => 2,
        "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceSumSquare"
        | "ReduceProd" | "ReduceLogSum" | "ReduceLogSumExp" => 2,
        "QuantizeLinear" | "DequantizeLinear" | "Conv" | "ConvTranspose" | "Gemm" | "Clip"
        | "LayerNormalization" | "ScatterND" => 3,
        "Pad" | "Resize" => 4,
        "Slice" => 5,
        _ => return None,
    })
}

/// Every node that has neither a built-in kernel nor a user template, in one error.
pub fn check_implemented(
    graph: &crate::onnx::Graph,
    templates: &crate::emit::Templates,
) -> Result<()> {
    for node in &graph.nodes {
        if let Some(Error::Template { template, message }) =
            templates.broken_template(&node.domain, &node.op_type)
        {
            return Err(Error::Template {
                template: template.clone(),
                message: format!(
                    "used by node '{}': {message}",
                    crate::emit::comment_safe(&node.name)
                ),
            });
        }
    }
    let missing: Vec<String> = graph
        .nodes
        .iter()
        .filter(|n| !is_builtin(n) && templates.user_template(&n.domain, &n.op_type).is_none())
        .map(|n| {
            let op = if n.domain.is_empty() {
                n.op_type.clone()
            } else {
                format!("{}::{}", n.domain, n.op_type)
            };
            format!(
                "  node '{}' ({op}): no built-in kernel; a template at {} would implement it",
                crate::emit::comment_safe(&n.name),
                templates.expected_path(&n.domain, &n.op_type)
            )
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Unsupported {
            count: missing.len(),
            list: missing.join("\n"),
        })
    }
}

/// Binds `node`'s output to a pending computation.
pub fn define_pending(
    lowering: &mut Lowering,
    node: &Node,
    compute: std::rc::Rc<dyn Pending>,
) -> Result<()> {
    let output = single_output(node)?;
    // At least one byte per element (int8) in the arena.
    checked_len(lowering, node, compute.output_shape(), 1)?;
    lowering.define(
        output,
        crate::quant::Value::Pending(crate::quant::lower::PendingValue {
            compute,
            bounds: RealBounds::default(),
            node: node.clone(),
            ops: node.op_type.clone(),
        }),
    );
    Ok(())
}

/// Input 0 as an activation, with its shape, which must have at least one axis and no empty one.
pub fn nonempty_input(
    lowering: &mut Lowering,
    node: &Node,
) -> Result<(crate::ir::TensorId, Vec<usize>)> {
    let input = lowering.quant_input(node, 0)?;
    let shape = lowering.tensor(input).shape.clone();
    if shape.is_empty() || shape.contains(&0) {
        return Err(Error::node(
            node,
            format!("input shape {shape:?} is empty or a scalar"),
        ));
    }
    Ok((input, shape))
}

/// Input `index` as real constant values with their dims: a float constant, or a
/// DequantizeLinear of an integer one (`q * 2^e`, exact in f64).
pub fn real_constant(
    lowering: &Lowering,
    node: &Node,
    index: usize,
) -> Result<(Vec<f64>, Vec<usize>)> {
    match lowering.value(node, index)? {
        crate::quant::Value::Const(c) if c.dtype.is_float() => {
            Ok((c.values.clone(), c.dims.clone()))
        }
        crate::quant::Value::QuantConst(q) => {
            let step = 2f64.powi(q.exponent);
            Ok((
                q.values.iter().map(|&v| v as f64 * step).collect(),
                q.dims.clone(),
            ))
        }
        other => Err(Error::node(
            node,
            format!(
                "input '{}' must be a float constant or a DequantizeLinear of one, found {}",
                node.inputs[index],
                crate::quant::lower::describe(other)
            ),
        )),
    }
}

/// The node's one output; nodes with optional extra outputs in use are rejected.
pub fn single_output(node: &Node) -> Result<&str> {
    match node.outputs.iter().filter(|o| !o.is_empty()).count() {
        1 if !node.outputs[0].is_empty() => Ok(&node.outputs[0]),
        n => Err(Error::node(
            node,
            format!("expected exactly one output (the first), found {n} in use"),
        )),
    }
}

pub use quantize::copy_layer;

/// `i / div % modulo * mul` for a flat loop index `i`, with the trivial parts left out: one
/// axis of the index arithmetic that broadcasting and reduction kernels write as literals.
/// `/`, `%` and `*` associate left to right, so no parentheses are needed.
pub fn index_term(div: usize, modulo: Option<usize>, mul: usize) -> String {
    let mut term = "i".to_string();
    if div > 1 {
        term = format!("{term} / {div}");
    }
    if let Some(m) = modulo {
        term = format!("{term} % {m}");
    }
    if mul > 1 {
        term = format!("{term} * {mul}");
    }
    term
}
