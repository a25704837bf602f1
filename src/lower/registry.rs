//! The supported ONNX operators: each op type's lowering, its constraints and the fixtures
//! that test it. The operator table of docs/operators.md is rendered from this list.

use super::ops::elementwise::Arithmetic;
use super::ops::reduce::Reduction;
use super::ops::{
    activation, concat, conv, conv_transpose, custom, dense, elementwise, layout, lp_norm,
    movement, normalization, pool, quantize, recurrent, reduce, resize, scatter, softmax, table,
};
use super::Lowering;
use crate::error::{Error, Result};
use crate::kernel::UserTemplates;
use crate::onnx::{Graph, Node};

type LowerFn = fn(&mut Lowering, &Node) -> Result<()>;

/// A supported ONNX operator: its lowering, the constraints on its use, and the fixtures
/// that test it (paths under `codegen-tests/models/`, without `.onnx`). The operator table of docs/operators.md is rendered
/// from this list ([`operator_table_markdown`]) and a test keeps the two equal.
pub struct Operator {
    pub name: &'static str,
    pub constraints: &'static str,
    pub fixtures: &'static [&'static str],
    /// `None`: a QOperator op, rewritten into QDQ at load (`src/rewrite/qoperator.rs`), which
    /// the lowering never sees.
    lower: Option<LowerFn>,
    /// The most inputs the ONNX schema gives the op (`None`: variadic), so that extra inputs
    /// are refused rather than ignored.
    max_inputs: Option<usize>,
}

/// A lowered op: its name, the most inputs it takes (`None`: variadic), its lowering, its
/// constraints and its fixtures.
const fn op(
    name: &'static str,
    max_inputs: Option<usize>,
    lower: LowerFn,
    constraints: &'static str,
    fixtures: &'static [&'static str],
) -> Operator {
    Operator {
        lower: Some(lower),
        max_inputs,
        ..rewritten(name, constraints, fixtures)
    }
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
        max_inputs: None,
    }
}

const TABLE_CONSTRAINT: &str =
    "int8 input: 256-entry table (int8 or int16 entries), f in f64, may differ from ONNX Runtime's f32 by 1 LSB; int16 input: interpolated table within 1 step of f (measured at codegen), may differ from ONNX Runtime by 2 LSB";

/// Every operator the lowering implements, in the order of the docs/operators.md table (one line each).
#[rustfmt::skip]
pub const OPERATORS: &[Operator] = &[
    op("QuantizeLinear", Some(3), quantize::lower_quantize, "int8, or int16 (opset 21); power-of-two per-tensor scale, zero point 0; between int8 and int16 a requantizing shift", &["digits_esppq", "digits_qat", "ops/int16_requantize_chain", "ops/int16_reshape_clip", "ops/in_place_chain"]),
    op("DequantizeLinear", Some(3), quantize::lower_dequantize, "int8 or int16 activations; int8/int32 constants; per channel (axis, 1-D power-of-two scale) for the weights and biases of Conv, ConvTranspose, Gemm and MatMul", &["digits_esppq", "digits_qat", "ops/conv2d_per_channel"]),
    op("Conv", Some(3), conv::lower, "1-D and 2-D; any groups (depthwise); pads, auto_pad, strides, dilations; int8 or int16 activations; constant int8 weights, per tensor or per output channel; i64 accumulator when the worst case exceeds i32", &["ops/conv2d_pointwise_per_channel", "ops/int16_conv_small_map", "ops/int16_conv_relu", "ops/int8_conv_to_int16", "ops/conv1d_pads_stride", "ops/conv1d_depthwise_dilated", "digits_esppq", "digits_qat", "kws1d_esppq", "residual_cnn_esppq", "ops/conv2d_same_upper_stride2", "ops/conv2d_grouped_dilated", "ops/conv2d_per_channel", "ops/conv1d_depthwise_per_channel", "ops/conv2d_grouped_per_channel", "ops/conv2d_wide_accumulator", "ops/conv2d_depthwise_multiplier", "ops/conv2d_wide_kernel_pads", "ops/conv1d_wide_kernel"]),
    op("ConvTranspose", Some(3), conv_transpose::lower, "1-D and 2-D; any groups; explicit pads, strides, dilations, output_padding (no output_shape); weights per tensor or per channel along axis 1", &["ops/conv_transpose_stride2", "ops/conv_transpose1d_groups", "ops/conv_transpose_per_channel"]),
    op("Gemm", Some(3), dense::lower_gemm, "constant 2-D int8 weight, per tensor or per output feature; transA, transB; power-of-two alpha, and beta (power of two for an int32 C); int8 or int16 activations", &["ops/int16_gemm_to_int8", "ops/gemm_trans_alpha_beta", "ops/gemm_per_channel_trans_b", "digits_esppq", "digits_qat", "kws1d_esppq", "residual_cnn_esppq"]),
    op("MatMul", Some(2), dense::lower_matmul, "activation (int8 or int16) × constant 2-D int8 weight (per tensor or per output feature), or activation × activation (int8 or int16) with broadcast batch dims", &["ops/int16_matmul_i64", "ops/matmul_batched", "ops/matmul_weight", "ops/matmul_per_channel", "ops/int16_matmul_two_inputs", "ops/int16_matmul_mixed_to_int8"]),
    op("Add", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Add), "two activations (int8 or int16, mixed), or one and a DequantizeLinear constant; numpy broadcasting; the aligned operands within 2^24 (exponents at most 16 apart for int8, 8 for int16)", &["ops/add_constant_int32", "ops/add_broadcast_channel", "ops/add_broadcast_both", "digits_esppq", "residual_cnn_esppq", "ops/in_place_chain", "ops/int16_add_broadcast", "ops/int16_mixed_add_to_int8"]),
    op("Sub", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Sub), "as Add", &["ops/sub_constant_first", "ops/sub_same_shape", "ops/sub_broadcast_rank", "ops/in_place_chain", "ops/int16_sub_mixed"]),
    op("Mul", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Mul), "two activations, or one and a DequantizeLinear constant; numpy broadcasting; x * f(x) of a table op (Swish) fuses into one table; int8 or int16 (an int16 product beyond 2^24 is rounded to f32 first, as ONNX Runtime's)", &["ops/mul_constant_int8", "ops/swish_fused", "ops/swish_qdq", "ops/mul_same_shape", "ops/mul_broadcast", "ops/int16_mul", "ops/int16_mul_constant_to_int8"]),
    op("Div", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Div), "two activations, numpy broadcasting; int8: ea - eb - ey >= -8, exact in integers; an int16 operand or output: ONNX Runtime's own f32 quotient, exact", &["ops/div_broadcast", "ops/int16_div"]),
    op("Mod", Some(2), elementwise::lower_mod, "fmod = 1 (float semantics), two activations (int8 or int16), numpy broadcasting; exponents at most 16 apart (8 for int16)", &["ops/mod_fmod", "ops/int16_mod"]),
    op("Equal", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Compare("==")), "two activations (int8 or int16), broadcasting; the boolean must be Cast to float and quantized", &["ops/compare_equal"]),
    op("Greater", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Compare(">")), "as Equal", &["ops/compare_greater"]),
    op("GreaterOrEqual", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Compare(">=")), "as Equal", &["ops/compare_greater_or_equal"]),
    op("Less", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Compare("<")), "as Equal", &["ops/compare_less"]),
    op("LessOrEqual", Some(2), |l, n| elementwise::lower(l, n, Arithmetic::Compare("<=")), "as Equal", &["ops/compare_less_or_equal", "ops/int16_compare_less_or_equal"]),
    op("Cast", Some(1), layout::lower_cast, "to float only, of an activation or a comparison; no code", &["ops/compare_equal"]),
    op("Concat", None, concat::lower, "int8 or int16 activations at any exponents (requantized to the output's type and exponent)", &["ops/concat_mixed_exponents", "ops/concat_last_axis", "kws1d_esppq", "ops/int16_concat_mixed", "ops/int16_split"]),
    op("Relu", Some(1), activation::lower_relu, "fused into the preceding layer, or into the requantization after it", &["ops/conv1d_depthwise_dilated", "digits_esppq", "digits_qat"]),
    op("Clip", Some(3), activation::lower_clip, "constant bounds (float, or DequantizeLinear as ESP-PPQ writes them); fused into the preceding layer, or into the requantization after it", &["residual_cnn_esppq", "ops/conv2d_grouped_dilated", "ops/clip_standalone", "ops/in_place_chain"]),
    op("LeakyRelu", Some(1), table::lower_leaky_relu, "int8 input: 256-entry table, slope * x in f32 as ONNX Runtime (exact); int16 input: slope * x in f32 at run time (exact)", &["ops/leaky_relu", "kws1d_esppq", "ops/in_place_chain", "ops/int16_leaky_relu", "ops/int16_in_place_chain"]),
    op("PRelu", Some(2), table::lower_prelu, "one slope or one per channel (float or int8 DequantizeLinear); int8 input: a table per channel; int16 input: slope * x in f32 at run time (exact)", &["ops/prelu_per_channel", "ops/prelu_quantized_slope", "ops/int16_prelu"]),
    op("MaxPool", Some(1), pool::lower_max_pool, "1-D and 2-D; pads, strides, dilations, ceil_mode; no Indices output; int8 or int16", &["ops/relu_then_maxpool_in_float", "ops/maxpool1d", "digits_qat", "kws1d_esppq", "ops/maxpool2d_ceil_dilated", "ops/int16_maxpool"]),
    op("AveragePool", Some(1), pool::lower_average_pool, "1-D and 2-D; pads, strides, ceil_mode, count_include_pad; int8 or int16 (int16: N * 2^max(ey - ex, 0) <= 64, so that it is exact)", &["ops/avgpool1d_ceil", "kws1d_esppq", "ops/avgpool2d_count_include_pad", "ops/avgpool2d_exclude_pad_ceil", "ops/int16_avgpool", "ops/int16_avgpool_count_include_pad", "ops/int8_transpose_pool_to_int16"]),
    op("GlobalAveragePool", Some(1), pool::lower_global_average_pool, "1-D and 2-D; int8 or int16 (as AveragePool)", &["digits_esppq", "residual_cnn_esppq", "ops/global_average_pool1d", "ops/int16_global_average_pool", "ops/int16_mixed_pool_to_int8"]),
    op("GlobalMaxPool", Some(1), pool::lower_global_max_pool, "1-D and 2-D; int8 or int16", &["ops/global_max_pool", "ops/int16_global_max_pool"]),
    op("ReduceSum", Some(2), |l, n| reduce::lower(l, n, Reduction::Sum), "constant axes, keepdims; int8, or int16 over at most 512 elements", &["ops/reduce_sum", "ops/int16_reduce_sum"]),
    op("ReduceMean", Some(2), |l, n| reduce::lower(l, n, Reduction::Mean), "constant axes, keepdims; N * 2^(ey - ex) <= 4096, so that it is exact; int16: at most 512 elements and N * 2^max(ey - ex, 0) <= 64", &["ops/reduce_mean", "ops/int16_reduce_mean"]),
    op("ReduceMax", Some(2), |l, n| reduce::lower(l, n, Reduction::Max), "constant axes, keepdims; int8 or int16", &["ops/reduce_max", "ops/int16_reduce_max", "ops/int8_transpose_pool_to_int16"]),
    op("ReduceMin", Some(2), |l, n| reduce::lower(l, n, Reduction::Min), "constant axes, keepdims; int8 or int16", &["ops/reduce_min", "ops/int16_reduce_min"]),
    op("ReduceSumSquare", Some(2), |l, n| reduce::lower(l, n, Reduction::SumSquare), "constant axes, keepdims; int16 input: at most 256 elements, exact sum in i64, within 1 LSB of ONNX Runtime's f32 squares", &["ops/reduce_sum_square", "ops/int16_reduce_sum_square", "ops/int16_reduce_sum_square_256", "ops/int16_reduce_sum_square_to_int8"]),
    op("ReduceL1", Some(2), |l, n| reduce::lower(l, n, Reduction::L1), "constant axes, keepdims; int8, or int16 over at most 512 elements", &["ops/reduce_l1", "ops/int16_reduce_l1"]),
    op("ReduceL2", Some(2), |l, n| reduce::lower(l, n, Reduction::L2), "constant axes, keepdims; exact integer square root; may differ from ONNX Runtime's f32 by 1 LSB; int16 input: at most 256 elements", &["ops/reduce_l2", "ops/int16_reduce_l2", "ops/int16_reduce_l2_256", "ops/int16_reduce_l2_from_int8"]),
    op("ReduceProd", Some(2), |l, n| reduce::lower(l, n, Reduction::Prod), "constant axes, keepdims; at most 4 reduced elements (2 of int16), so that ONNX Runtime's f32 product rounds once (exact)", &["ops/reduce_prod", "ops/int16_reduce_prod", "ops/int16_reduce_prod_from_int8"]),
    op("ReduceLogSum", Some(2), |l, n| reduce::lower(l, n, Reduction::LogSum), "constant axes, keepdims; int8: a table of ln over the 127 N positive sums, f in f64; int16 input or output: ln in f64 at run time, at most 512 int16 elements; may differ from ONNX Runtime's f32 by 1 LSB", &["ops/reduce_log_sum", "ops/int16_reduce_log_sum", "ops/int16_reduce_log_sum_from_int8"]),
    op("ReduceLogSumExp", Some(2), |l, n| reduce::lower(l, n, Reduction::LogSumExp), "constant axes, keepdims; exp tables as Softmax (Q24, or two Q30 tables with an int16 side), ln in f64; may differ from ONNX Runtime's f32 by 1 LSB", &["ops/reduce_log_sum_exp", "ops/int16_reduce_log_sum_exp", "ops/int16_reduce_log_sum_exp_from_int8", "ops/int16_reduce_log_sum_exp_to_int8"]),
    op("Softmax", Some(1), softmax::lower_softmax, "quantized output; int8: exp table in Q24 and an exact integer division; int16 input or output: exp from two Q30 tables, its error checked at codegen to stay under a quarter step; may differ from ONNX Runtime's f32 by 1 LSB", &["ops/softmax_last_axis", "ops/softmax_channels", "ops/int16_softmax", "ops/int16_softmax_channels", "ops/int8_softmax_to_int16"]),
    op("LogSoftmax", Some(1), softmax::lower_log_softmax, "Softmax's exp table and sum, ln in f64, quantized from f32; may differ from ONNX Runtime's f32 by 1 LSB; int8 or int16 (as Softmax)", &["ops/log_softmax_last_axis", "ops/log_softmax_channels", "ops/int16_log_softmax"]),
    op("LayerNormalization", Some(3), normalization::lower_layer_normalization, "stash_type 1; at most 1024 normalised elements; constant scale and bias (float or DequantizeLinear); f32 in ONNX Runtime's order of operations with a correctly rounded square root (exact); int8 or int16 output; int16 input: at most 64 elements, its f32 sum of squares may differ from ONNX Runtime's by 1 LSB", &["ops/layer_norm_last_axis", "ops/layer_norm_channels_no_bias", "ops/int16_layer_norm", "ops/int16_layer_norm_to_int8", "ops/int8_layer_norm_to_int16"]),
    op("RMSNormalization", Some(2), normalization::lower_rms_normalization, "opset 23; as LayerNormalization", &["ops/rms_norm", "ops/int16_rms_norm"]),
    op("LpNormalization", Some(1), lp_norm::lower, "p 1 or 2, any axis; at most 1024 (p 2) or 131072 (p 1) elements along it; f32 as ONNX Runtime with a correctly rounded square root, 0 for a zero norm (exact); int8 or int16 output; int16 input for p 1 (at most 512 elements)", &["ops/lp_norm_p2_last_axis", "ops/lp_norm_p2_middle_axis", "ops/lp_norm_p1_channels", "ops/int16_lp_norm_p1", "ops/int8_lp_norm_p2_to_int16"]),
    op("Pow", Some(2), |l, n| table::lower_unary(l, n, table::pow), "constant scalar exponent; as Sigmoid", &["ops/pow_square", "ops/pow_cube", "ops/int16_pow"]),
    op("Sigmoid", Some(1), |l, n| table::lower_unary(l, n, table::sigmoid), TABLE_CONSTRAINT, &["ops/sigmoid", "residual_cnn_esppq", "ops/int16_sigmoid", "ops/int8_sigmoid_to_int16", "ops/int16_swish"]),
    op("Tanh", Some(1), |l, n| table::lower_unary(l, n, table::tanh), TABLE_CONSTRAINT, &["ops/tanh", "kws1d_esppq", "ops/int16_tanh", "ops/int16_tanh_to_int8"]),
    op("HardSigmoid", Some(1), |l, n| table::lower_unary(l, n, table::hard_sigmoid), TABLE_CONSTRAINT, &["ops/hard_sigmoid", "ops/int16_hard_sigmoid"]),
    op("HardSwish", Some(1), |l, n| table::lower_unary(l, n, table::hard_swish), TABLE_CONSTRAINT, &["ops/hard_swish", "ops/int16_hard_swish"]),
    op("Elu", Some(1), |l, n| table::lower_unary(l, n, table::elu), TABLE_CONSTRAINT, &["ops/elu", "ops/int16_elu"]),
    op("Exp", Some(1), |l, n| table::lower_unary(l, n, table::exp), TABLE_CONSTRAINT, &["ops/exp", "ops/int16_exp"]),
    op("Log", Some(1), |l, n| table::lower_unary(l, n, table::log), TABLE_CONSTRAINT, &["ops/log", "ops/int16_log"]),
    op("Sqrt", Some(1), |l, n| table::lower_unary(l, n, table::sqrt), TABLE_CONSTRAINT, &["ops/sqrt", "ops/int16_sqrt"]),
    op("Softplus", Some(1), |l, n| table::lower_unary(l, n, table::softplus), TABLE_CONSTRAINT, &["ops/softplus", "ops/int16_softplus"]),
    op("Neg", Some(1), |l, n| table::lower_unary(l, n, table::neg), "int8 input: 256-entry table (exact); int16 input: interpolated table, exact for this linear f", &["ops/neg", "ops/in_place_chain", "ops/int16_neg"]),
    op("Erf", Some(1), |l, n| table::lower_unary(l, n, table::erf), TABLE_CONSTRAINT, &["ops/erf", "ops/int16_erf"]),
    op("Gelu", Some(1), |l, n| table::lower_unary(l, n, table::gelu), "approximate none or tanh (opset 20); as Sigmoid", &["ops/gelu", "ops/int16_gelu"]),
    op("LSTM", Some(8), recurrent::lower_lstm, "forward, reverse, bidirectional; layout 0 and 1; default activations, clip; int8 or int16 input; constant int8 W and R, per tensor or per gate row; float or int32 bias; constant initial_h and initial_c; no peepholes, no sequence_lens shorter than the input; Y, Y_h and Y_c; gates in Q24 with interpolated sigmoid and tanh, hidden state int16 at 2^-15 in Model (streaming); within 1 LSB of ONNX Runtime's float LSTM", &["recurrent/lstm_forward", "recurrent/lstm_bidirectional_y_h", "recurrent/lstm_reverse_row_weights_y_c", "recurrent/lstm_layout1"]),
    op("GRU", Some(6), recurrent::lower_gru, "forward, reverse, bidirectional; linear_before_reset 0 and 1; layout 0 and 1; otherwise as LSTM", &["recurrent/gru_forward", "recurrent/gru_bidirectional_y_h", "recurrent/gru_layout1_y_h", "recurrent/gru_reverse_int16", "recurrent/kws_gru_pt"]),
    op("Flatten", Some(1), layout::lower_flatten, "no code: a view", &["digits_esppq", "digits_qat", "kws1d_esppq", "residual_cnn_esppq"]),
    op("Reshape", Some(2), layout::lower_reshape, "constant shape; no code: a view", &["kws1d_esppq"]),
    op("Identity", Some(1), layout::lower_identity, "no code", &["digits_qat"]),
    op("Squeeze", Some(2), layout::lower_squeeze, "no code: a view", &["ops/squeeze_unsqueeze"]),
    op("Unsqueeze", Some(2), layout::lower_unsqueeze, "no code: a view", &["ops/squeeze_unsqueeze"]),
    op("Transpose", Some(1), movement::transpose::lower, "any permutation; an index table; int8 or int16", &["ops/transpose", "ops/int16_transpose", "ops/int8_transpose_pool_to_int16"]),
    op("Slice", Some(5), movement::slice::lower, "constant starts/ends/axes/steps, negative steps; an index table; int8 or int16", &["ops/slice_steps", "ops/int16_slice"]),
    op("Split", Some(2), movement::split::lower, "constant sizes or equal parts; an index table per output; int8 or int16", &["ops/split", "ops/int16_split"]),
    op("Pad", Some(4), movement::pad::lower, "constant pads; constant, reflect or edge mode; an index table; int8 or int16", &["ops/pad_constant", "ops/pad_reflect", "ops/pad_edge", "ops/int16_pad_constant", "ops/int16_pad_reflect"]),
    op("Gather", Some(2), movement::gather::lower, "constant indices (negative allowed); an index table; int8 or int16", &["ops/gather_constant", "ops/int16_gather"]),
    op("DepthToSpace", Some(1), movement::depth_to_space::lower_depth_to_space, "DCR and CRD; an index table; int8 or int16", &["ops/depth_to_space_dcr", "ops/depth_to_space_crd", "ops/int16_depth_to_space"]),
    op("SpaceToDepth", Some(1), movement::depth_to_space::lower_space_to_depth, "an index table; int8 or int16", &["ops/space_to_depth", "ops/int16_space_to_depth"]),
    op("ReverseSequence", Some(2), movement::reverse_sequence::lower, "constant sequence_lens; batch_axis and time_axis 0 and 1; an index table; int8 or int16", &["ops/reverse_sequence_time_major", "ops/reverse_sequence_batch_major", "ops/int16_reverse_sequence"]),
    op("ScatterND", Some(3), scatter::lower, "reduction none, add, mul, max or min; constant indices (negative allowed; repeats with a reduction, applied in index order); updates an activation or a constant (float or DequantizeLinear); int8 or int16 data, updates and output; exact against ONNX Runtime (add/max/min while the sums stay within f32's exact integers, mul while the products do: 2 int8 updates per element)", &["ops/scatter_nd_slices", "ops/scatter_nd_rows_constant_updates", "ops/scatter_nd_elements", "ops/scatter_nd_add", "ops/scatter_nd_mul", "ops/scatter_nd_max", "ops/scatter_nd_min", "ops/scatter_nd_add_constant_updates", "ops/scatter_nd_add_int16", "ops/scatter_nd_max_int16_to_int8", "ops/scatter_nd_slices_int16"]),
    op("Resize", Some(4), resize::lower, "opset 10+, constant scales or sizes, no antialias/axes; nearest: every coordinate transformation and nearest mode, an index table; linear: NCL or NCHW with N and C unscaled, half_pixel, pytorch_half_pixel, asymmetric or align_corners, ONNX Runtime's f32 weights (exact in integers when dyadic, else its f32 operations in its order)", &["ops/resize_nearest_half_pixel", "ops/resize_nearest_asymmetric", "ops/resize_nearest_opset10", "ops/resize_linear_half_pixel_2x", "ops/resize_linear_align_corners", "ops/resize_linear_asymmetric", "ops/resize_linear_scale_1_5", "ops/resize_linear_downscale_sizes", "ops/resize_linear_1d", "ops/resize_linear_1d_pytorch_half_pixel", "ops/resize_linear_opset10"]),
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
            .get(&node.domain, &node.op_type)
            .ok_or_else(|| Error::node(node, "no built-in kernel and no template"))?
            .name
            .clone();
        return custom::lower(lowering, node, &template);
    }
    let operator = operator(&node.op_type);
    if let Some(max) = operator.and_then(|o| o.max_inputs) {
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
    match operator.and_then(|o| o.lower) {
        Some(lower) => lower(lowering, node),
        None => Err(Error::node(
            node,
            format!("operator {} is not supported", node.op_type),
        )),
    }
}

/// Every node that has neither a built-in kernel nor a user template, in one error.
pub fn check_implemented(graph: &Graph, templates: &UserTemplates) -> Result<()> {
    for node in &graph.nodes {
        if let Some(Error::Template { template, message }) =
            templates.broken(&node.domain, &node.op_type)
        {
            return Err(Error::Template {
                template: template.clone(),
                message: format!(
                    "used by node '{}': {message}",
                    crate::text::comment_safe(&node.name)
                ),
            });
        }
    }
    let missing: Vec<String> = graph
        .nodes
        .iter()
        .filter(|n| !is_builtin(n) && templates.get(&n.domain, &n.op_type).is_none())
        .map(|n| {
            let op = if n.domain.is_empty() {
                n.op_type.clone()
            } else {
                format!("{}::{}", n.domain, n.op_type)
            };
            format!(
                "  node '{}' ({op}): no built-in kernel; a template at {} would implement it",
                crate::text::comment_safe(&n.name),
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
