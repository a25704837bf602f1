"""int16 single-op QDQ fixtures for codegen-tests, with their ONNX Runtime recordings.

The same graphs and recorder as make_op_fixtures.py, with int16 activations (QuantizeLinear
int16 needs opset 21): every op family that accepts int16 gets a fixture, and a few graphs
cross between int8 and int16 (int8 -> int16 op -> int8). Inputs walk a stride of the int16
codes in sample 0 and are random, on and off the grid and beyond the range, in the others.
Outputs are recorded by ONNX Runtime with graph optimizations disabled.

Usage (from the repository root):
    /path/to/venv/bin/python examples/ops/make_int16_fixtures.py [--only NAME ...]
Writes codegen-tests/models/ops/int16_NAME.onnx and int16_NAME.expected.json.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_op_fixtures import INT16_OPSET, Graph, record, rng_for  # noqa: E402

I16 = np.int16
FIXTURES = {}


def fixture(fn):
    FIXTURES[fn.__name__] = fn
    return fn


def finish16(g, y, exponent, dtype=I16, opset=INT16_OPSET):
    return g.finish(y, exponent, opset=opset, dtype=dtype)


def const_i64(g, values, stem):
    return g.const(np.array(values, dtype=np.int64), stem)


# ---------------------------------------------------------------------------------------------
# Elementwise binary ops.


@fixture
def int16_add_broadcast():
    g = Graph("int16_add_broadcast")
    a = g.input([1, 3, 4, 5], -10, dtype=I16)
    b = g.input([1, 3, 1, 1], -8, dtype=I16)
    return finish16(g, g.node("Add", [a, b]), -9)


@fixture
def int16_sub_mixed():
    """int8 minus int16, into int16: the int8 operand is aligned 7 bits up."""
    g = Graph("int16_sub_mixed")
    a = g.input([1, 3, 4, 5], -4)
    b = g.input([1, 3, 4, 5], -11, dtype=I16)
    return finish16(g, g.node("Sub", [a, b]), -10)


@fixture
def int16_mul():
    """int16 x int16: products up to 2^30, which ONNX Runtime rounds to f32 before quantizing."""
    g = Graph("int16_mul")
    a = g.input([1, 3, 4, 5], -10, dtype=I16)
    b = g.input([1, 1, 4, 5], -12, dtype=I16)
    return finish16(g, g.node("Mul", [a, b]), -15)


@fixture
def int16_mul_constant_to_int8():
    """int16 x an int8 constant, quantized to int8 (the int16 -> int8 edge)."""
    g = Graph("int16_mul_constant_to_int8")
    a = g.input([1, 3, 4, 5], -10, dtype=I16)
    c = g.weight(np.array([100, -37, 5], dtype=np.int8).reshape(3, 1, 1), -6)
    return g.finish(g.node("Mul", [a, c]), -6, opset=INT16_OPSET)


@fixture
def int16_div():
    g = Graph("int16_div")
    a = g.input([1, 3, 4, 5], -10, dtype=I16)
    b = g.input([1, 3, 1, 5], -9, dtype=I16)
    return finish16(g, g.node("Div", [a, b]), -8)


@fixture
def int16_mod():
    g = Graph("int16_mod")
    a = g.input([1, 3, 4, 5], -10, dtype=I16)
    b = g.input([1, 3, 1, 5], -9, dtype=I16)
    return finish16(g, g.node("Mod", [a, b], fmod=1), -11)


@fixture
def int16_compare_less_or_equal():
    """One kernel serves every comparison; int16 operands at exponents 3 apart."""
    g = Graph("int16_compare_less_or_equal")
    a = g.input([1, 3, 4, 5], -7, dtype=I16)
    b = g.input([1, 3, 1, 5], -10, dtype=I16)
    y = g.node("Cast", [g.node("LessOrEqual", [a, b])], to=1)
    return finish16(g, y, -12)


@fixture
def int16_matmul_two_inputs():
    """int16 x int16 activations (products up to 2^30, an i64 accumulator), broadcast batch."""
    g = Graph("int16_matmul_two_inputs")
    a = g.input([2, 3, 8], -10, dtype=I16)
    b = g.input([1, 8, 4], -11, dtype=I16)
    return finish16(g, g.node("MatMul", [a, b]), -4)


@fixture
def int16_matmul_mixed_to_int8():
    """int8 x int16 activations into int8."""
    g = Graph("int16_matmul_mixed_to_int8")
    a = g.input([3, 6], -4)
    b = g.input([6, 5], -10, dtype=I16)
    return g.finish(g.node("MatMul", [a, b]), -2, opset=INT16_OPSET)


# ---------------------------------------------------------------------------------------------
# Concat and pools.


@fixture
def int16_concat_mixed():
    """int16, int8 and int16 inputs at three exponents, into int16."""
    g = Graph("int16_concat_mixed")
    a = g.input([1, 2, 3, 4], -10, dtype=I16)
    b = g.input([1, 3, 3, 4], -4)
    c = g.input([1, 1, 3, 4], -12, dtype=I16)
    return finish16(g, g.node("Concat", [a, b, c], axis=1), -11)


@fixture
def int16_avgpool():
    g = Graph("int16_avgpool")
    x = g.input([1, 2, 5, 6], -10, dtype=I16)
    y = g.node("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1)
    return finish16(g, y, -10)


@fixture
def int16_avgpool_count_include_pad():
    g = Graph("int16_avgpool_count_include_pad")
    x = g.input([1, 2, 5, 6], -10, dtype=I16)
    y = g.node("AveragePool", [x], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 0, 1], count_include_pad=1)
    return finish16(g, y, -11)


@fixture
def int16_global_average_pool():
    g = Graph("int16_global_average_pool")
    x = g.input([1, 3, 4, 5], -10, dtype=I16)
    return finish16(g, g.node("GlobalAveragePool", [x]), -11)


@fixture
def int16_maxpool():
    g = Graph("int16_maxpool")
    x = g.input([1, 2, 7, 6], -10, dtype=I16)
    y = g.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 1], pads=[0, 1, 1, 0], ceil_mode=1)
    return finish16(g, y, -10)


@fixture
def int16_global_max_pool():
    g = Graph("int16_global_max_pool")
    x = g.input([1, 3, 4, 5], -10, dtype=I16)
    return finish16(g, g.node("GlobalMaxPool", [x]), -10)


# ---------------------------------------------------------------------------------------------
# Reductions (opset 21: axes are an input).


def reduction(op, name, axes, keepdims, ex, ey, shape=(2, 3, 4, 5), dtype_in=I16, dtype_out=I16):
    g = Graph(name)
    x = g.input(list(shape), ex, dtype=dtype_in)
    y = g.node(op, [x, const_i64(g, axes, "axes")], keepdims=keepdims)
    return finish16(g, y, ey, dtype=dtype_out)


@fixture
def int16_reduce_sum():
    return reduction("ReduceSum", "int16_reduce_sum", [1, 3], 1, -10, -7)


@fixture
def int16_reduce_mean():
    return reduction("ReduceMean", "int16_reduce_mean", [2, 3], 0, -10, -10)


@fixture
def int16_reduce_max():
    return reduction("ReduceMax", "int16_reduce_max", [1], 0, -10, -10)


@fixture
def int16_reduce_min():
    return reduction("ReduceMin", "int16_reduce_min", [-1], 1, -10, -9)


@fixture
def int16_reduce_l1():
    return reduction("ReduceL1", "int16_reduce_l1", [0, 2], 0, -10, -8)


@fixture
def int16_reduce_sum_square():
    return reduction("ReduceSumSquare", "int16_reduce_sum_square", [3], 1, -10, -2)


@fixture
def int16_reduce_sum_square_to_int8():
    return reduction("ReduceSumSquare", "int16_reduce_sum_square_to_int8", [1], 0, -10, 3, dtype_out=np.int8)


@fixture
def int16_reduce_sum_square_256():
    """The largest int16 sum of squares (256), its outputs up to the int16 range: ONNX
    Runtime's f32 squares and sum are within half a step of the exact sum."""
    return reduction("ReduceSumSquare", "int16_reduce_sum_square_256", [2, 3], 1, -10, 2, shape=(2, 2, 8, 32))


@fixture
def int16_reduce_l2_256():
    return reduction("ReduceL2", "int16_reduce_l2_256", [2, 3], 0, -10, -6, shape=(2, 2, 8, 32))


@fixture
def int16_reduce_l2():
    return reduction("ReduceL2", "int16_reduce_l2", [1, 3], 0, -10, -8)


@fixture
def int16_reduce_l2_from_int8():
    """An int8 input to an int16 output."""
    return reduction("ReduceL2", "int16_reduce_l2_from_int8", [1], 1, -4, -11, dtype_in=np.int8)


@fixture
def int16_reduce_prod():
    """Two factors: their product rounds in f32 once."""
    return reduction("ReduceProd", "int16_reduce_prod", [1], 0, -10, -5, shape=(2, 2, 4, 5))


@fixture
def int16_reduce_prod_from_int8():
    """Four int8 factors to an int16 output."""
    return reduction("ReduceProd", "int16_reduce_prod_from_int8", [3], 1, -4, -2, shape=(2, 3, 5, 4), dtype_in=np.int8)


@fixture
def int16_reduce_log_sum():
    return reduction("ReduceLogSum", "int16_reduce_log_sum", [2, 3], 1, -10, -12)


@fixture
def int16_reduce_log_sum_from_int8():
    """An int8 input to an int16 output: ln at run time instead of the int8 table."""
    return reduction("ReduceLogSum", "int16_reduce_log_sum_from_int8", [1], 0, -4, -12, dtype_in=np.int8)


@fixture
def int16_reduce_log_sum_exp():
    return reduction("ReduceLogSumExp", "int16_reduce_log_sum_exp", [1], 0, -10, -10)


@fixture
def int16_reduce_log_sum_exp_from_int8():
    """An int8 input to an int16 output: the two Q30 tables."""
    return reduction("ReduceLogSumExp", "int16_reduce_log_sum_exp_from_int8", [3], 0, -4, -11, dtype_in=np.int8)


@fixture
def int16_reduce_log_sum_exp_to_int8():
    return reduction("ReduceLogSumExp", "int16_reduce_log_sum_exp_to_int8", [2, 3], 1, -10, -2, dtype_out=np.int8)


# ---------------------------------------------------------------------------------------------
# Movement ops: one index table, a copy or a requantization to the output's type.


@fixture
def int16_transpose():
    g = Graph("int16_transpose")
    x = g.input([1, 3, 4, 5], -10, dtype=I16)
    return finish16(g, g.node("Transpose", [x], perm=[0, 2, 3, 1]), -9)


@fixture
def int16_slice():
    g = Graph("int16_slice")
    x = g.input([1, 4, 6, 7], -10, dtype=I16)
    starts = const_i64(g, [3, -1, 1], "starts")
    ends = const_i64(g, [0, -100, 2**62], "ends")
    axes = const_i64(g, [1, 2, 3], "axes")
    steps = const_i64(g, [-1, -2, 3], "steps")
    return finish16(g, g.node("Slice", [x, starts, ends, axes, steps]), -10)


@fixture
def int16_split():
    """Split's parts quantized to int16 and int8 and concatenated back in another order."""
    g = Graph("int16_split")
    x = g.input([1, 6, 2, 3], -10, dtype=I16)
    parts = g.node_outputs("Split", [x, const_i64(g, [1, 3, 2], "split")], 3, axis=1)
    parts = [g.qdq(p, e, "part", dtype=t) for p, e, t in zip(parts, [-10, -4, -12], [I16, np.int8, I16])]
    return finish16(g, g.node("Concat", [parts[2], parts[0], parts[1]], axis=1), -10)


@fixture
def int16_pad_constant():
    g = Graph("int16_pad_constant")
    x = g.input([1, 2, 3, 4], -10, dtype=I16)
    pads = const_i64(g, [0, 0, 1, 2, 0, 1, 2, -1], "pads")
    value = g.const(np.float32(0.3), "value")
    return finish16(g, g.node("Pad", [x, pads, value], mode="constant"), -9)


@fixture
def int16_pad_reflect():
    g = Graph("int16_pad_reflect")
    x = g.input([1, 2, 4, 5], -10, dtype=I16)
    pads = const_i64(g, [0, 0, 2, 1, 0, 0, 1, 3], "pads")
    return finish16(g, g.node("Pad", [x, pads], mode="reflect"), -10)


@fixture
def int16_gather():
    g = Graph("int16_gather")
    x = g.input([1, 5, 3, 4], -10, dtype=I16)
    indices = g.const(np.array([[4, 0], [-1, 2]], dtype=np.int64), "indices")
    return finish16(g, g.node("Gather", [x, indices], axis=1), -10)


@fixture
def int16_depth_to_space():
    g = Graph("int16_depth_to_space")
    x = g.input([1, 8, 2, 3], -10, dtype=I16)
    return finish16(g, g.node("DepthToSpace", [x], blocksize=2, mode="CRD"), -11)


@fixture
def int16_space_to_depth():
    g = Graph("int16_space_to_depth")
    x = g.input([1, 2, 4, 6], -10, dtype=I16)
    return finish16(g, g.node("SpaceToDepth", [x], blocksize=2), -10)


@fixture
def int16_reverse_sequence():
    g = Graph("int16_reverse_sequence")
    x = g.input([4, 3, 5], -10, dtype=I16)
    lens = const_i64(g, [4, 1, 3], "sequence_lens")
    return finish16(g, g.node("ReverseSequence", [x, lens], batch_axis=1, time_axis=0), -9)


# ---------------------------------------------------------------------------------------------
# Unary ops. An int16 input reads an interpolated table (LeakyRelu and PRelu: exact f32
# evaluation); an int8 input with an int16 output a 256-entry table.

# name: (op, input exponent, output exponent, attributes)
UNARY = {
    "int16_sigmoid": ("Sigmoid", -12, -15, {}),
    "int16_tanh": ("Tanh", -12, -15, {}),
    "int16_hard_sigmoid": ("HardSigmoid", -12, -15, {"alpha": 0.25, "beta": 0.5}),
    "int16_hard_swish": ("HardSwish", -11, -11, {}),
    "int16_elu": ("Elu", -12, -12, {"alpha": 0.7}),
    "int16_exp": ("Exp", -12, -10, {}),
    "int16_log": ("Log", -10, -11, {}),
    "int16_sqrt": ("Sqrt", -10, -12, {}),
    "int16_softplus": ("Softplus", -12, -12, {}),
    "int16_neg": ("Neg", -10, -10, {}),
    "int16_erf": ("Erf", -12, -15, {}),
    "int16_gelu": ("Gelu", -12, -12, {}),
    "int16_leaky_relu": ("LeakyRelu", -10, -11, {"alpha": 0.1}),
}


def unary(name):
    op, ex, ey, attrs = UNARY[name]
    g = Graph(name)
    x = g.input([1, 4, 16, 16], ex, dtype=I16)
    return finish16(g, g.node(op, [x], **attrs), ey)


for _name in UNARY:
    FIXTURES[_name] = lambda name=_name: unary(name)


@fixture
def int16_pow():
    g = Graph("int16_pow")
    x = g.input([1, 4, 16, 16], -12, dtype=I16)
    return finish16(g, g.node("Pow", [x, g.const(np.float32(2.0), "exponent")]), -9)


@fixture
def int16_swish():
    """x * Sigmoid(x), fused into one table of x * f(x)."""
    g = Graph("int16_swish")
    x = g.input([1, 4, 16, 16], -12, dtype=I16)
    return finish16(g, g.node("Mul", [x, g.node("Sigmoid", [x])]), -12)


@fixture
def int16_prelu():
    g = Graph("int16_prelu")
    x = g.input([1, 4, 8, 8], -10, dtype=I16)
    slope = g.const(np.array([0.25, -0.3, 0.01, 1.7], dtype=np.float32).reshape(4, 1, 1), "slope")
    return finish16(g, g.node("PRelu", [x, slope]), -10)


@fixture
def int8_sigmoid_to_int16():
    """An int8 input into an int16 output: a 256-entry table of int16 entries."""
    g = Graph("int8_sigmoid_to_int16")
    x = g.input([1, 4, 8, 8], -5)
    return finish16(g, g.node("Sigmoid", [x]), -15)


# ---------------------------------------------------------------------------------------------
# Softmax and the normalizations.


@fixture
def int16_softmax():
    g = Graph("int16_softmax")
    x = g.input([2, 3, 16], -10, dtype=I16)
    return finish16(g, g.node("Softmax", [x]), -15)


@fixture
def int16_softmax_channels():
    g = Graph("int16_softmax_channels")
    x = g.input([1, 5, 3, 4], -11, dtype=I16)
    return finish16(g, g.node("Softmax", [x], axis=1), -14)


@fixture
def int16_log_softmax():
    g = Graph("int16_log_softmax")
    x = g.input([2, 3, 16], -10, dtype=I16)
    return finish16(g, g.node("LogSoftmax", [x]), -10)


@fixture
def int8_softmax_to_int16():
    """An int8 input into an int16 softmax output."""
    g = Graph("int8_softmax_to_int16")
    x = g.input([2, 3, 10], -4)
    return finish16(g, g.node("Softmax", [x]), -15)


@fixture
def int16_layer_norm():
    g = Graph("int16_layer_norm")
    rng = rng_for("int16_layer_norm")
    x = g.input([2, 3, 16], -10, dtype=I16)
    scale = g.const(rng.uniform(0.5, 1.5, size=[16]).astype(np.float32), "scale")
    bias = g.const(rng.uniform(-0.5, 0.5, size=[16]).astype(np.float32), "bias")
    y = g.node("LayerNormalization", [x, scale, bias], epsilon=1e-5)
    return finish16(g, y, -12)


@fixture
def int16_layer_norm_to_int8():
    """int16 in, normalised over the last three axes, int8 out."""
    g = Graph("int16_layer_norm_to_int8")
    rng = rng_for("int16_layer_norm_to_int8")
    x = g.input([2, 4, 3, 5], -9, dtype=I16)
    scale = g.const(rng.uniform(0.5, 1.5, size=[4, 3, 5]).astype(np.float32), "scale")
    y = g.node("LayerNormalization", [x, scale], axis=1, epsilon=1e-3)
    return g.finish(y, -5, opset=INT16_OPSET)


@fixture
def int8_layer_norm_to_int16():
    g = Graph("int8_layer_norm_to_int16")
    rng = rng_for("int8_layer_norm_to_int16")
    x = g.input([2, 3, 16], -4)
    scale = g.const(rng.uniform(0.5, 1.5, size=[16]).astype(np.float32), "scale")
    bias = g.const(rng.uniform(-0.5, 0.5, size=[16]).astype(np.float32), "bias")
    y = g.node("LayerNormalization", [x, scale, bias], epsilon=1e-5)
    return finish16(g, y, -12)


@fixture
def int16_rms_norm():
    g = Graph("int16_rms_norm")
    rng = rng_for("int16_rms_norm")
    x = g.input([2, 3, 16], -10, dtype=I16)
    scale = g.const(rng.uniform(0.5, 1.5, size=[16]).astype(np.float32), "scale")
    y = g.node("RMSNormalization", [x, scale], epsilon=1e-5)
    return finish16(g, y, -12, opset=23)


@fixture
def int16_lp_norm_p1():
    g = Graph("int16_lp_norm_p1")
    x = g.input([1, 4, 3, 5], -10, dtype=I16)
    y = g.node("LpNormalization", [g.node("Relu", [x])], axis=1, p=1)
    return finish16(g, y, -15)


@fixture
def int8_lp_norm_p2_to_int16():
    g = Graph("int8_lp_norm_p2_to_int16")
    x = g.input([2, 3, 8], -3)
    return finish16(g, g.node("LpNormalization", [x], axis=-1, p=2), -15)


# ---------------------------------------------------------------------------------------------
# Mixed edges: int8 -> int16 op -> int8.


@fixture
def int16_mixed_add_to_int8():
    """An int8 input requantized to int16, added to an int16 input, quantized to int8."""
    g = Graph("int16_mixed_add_to_int8")
    a = g.qdq(g.input([1, 3, 4, 5], -5), -9, dtype=I16)
    b = g.input([1, 3, 4, 5], -11, dtype=I16)
    return g.finish(g.node("Add", [a, b]), -4, opset=INT16_OPSET)


@fixture
def int16_mixed_pool_to_int8():
    """int8 and int16 concatenated into int16, average-pooled, quantized to int8."""
    g = Graph("int16_mixed_pool_to_int8")
    a = g.input([1, 2, 2, 2], -5)
    b = g.input([1, 2, 2, 2], -10, dtype=I16)
    c = g.qdq(g.node("Concat", [a, b], axis=1), -10, dtype=I16)
    return g.finish(g.node("GlobalAveragePool", [c]), -6, opset=INT16_OPSET)


@fixture
def int16_in_place_chain():
    """Pointwise int16 layers whose input dies there, so that the memory plan runs them in
    place: Mul by a constant, LeakyRelu, Neg (an exact interpolated table), Sigmoid (an
    interpolated table), Add of a constant."""
    g = Graph("int16_in_place_chain")
    x = g.input([1, 3, 4, 5], -10, dtype=I16)
    c = g.weight(np.array([100, -37, 5], dtype=np.int8).reshape(3, 1, 1), -6)
    t = g.qdq(g.node("Mul", [x, c]), -9, dtype=I16)
    t = g.qdq(g.node("LeakyRelu", [t], alpha=0.1), -9, dtype=I16)
    t = g.qdq(g.node("Neg", [t]), -9, dtype=I16)
    t = g.qdq(g.node("Sigmoid", [t]), -15, dtype=I16)
    bias = g.weight(np.int8(3), -7)
    return finish16(g, g.node("Add", [t, bias]), -14)


@fixture
def int16_tanh_to_int8():
    """An int16 input through an interpolated table into an int8 output."""
    g = Graph("int16_tanh_to_int8")
    x = g.input([1, 4, 16, 16], -12, dtype=I16)
    return g.finish(g.node("Tanh", [x]), -7, opset=INT16_OPSET)


@fixture
def int8_transpose_pool_to_int16():
    """The int8 -> int16 edge after movement and pooling: an int8 Transpose quantized to int16,
    then an int16 AveragePool and ReduceMax."""
    g = Graph("int8_transpose_pool_to_int16")
    x = g.input([1, 4, 6, 3], -5)
    t = g.qdq(g.node("Transpose", [x], perm=[0, 3, 1, 2]), -9, dtype=I16)
    p = g.qdq(g.node("AveragePool", [t], kernel_shape=[2, 2], strides=[2, 2]), -10, dtype=I16)
    y = g.node("ReduceMax", [p, const_i64(g, [1], "axes")], keepdims=1)
    return finish16(g, y, -10)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="fixture names (default: all)")
    args = ap.parse_args()
    for name in args.only or sorted(FIXTURES):
        model = FIXTURES[name]()
        model.producer_name = "onnx2esp examples/ops/make_int16_fixtures.py"
        record(name, model)


if __name__ == "__main__":
    main()
