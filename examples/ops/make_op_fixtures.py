"""Single-op QDQ fixtures for codegen-tests, with their ONNX Runtime recordings.

Every fixture is a small graph built with onnx.helper:

    float input -> QuantizeLinear -> DequantizeLinear -> op(s) -> QuantizeLinear -> DequantizeLinear

with power-of-two scales and int8 zero point 0 everywhere, weights as DequantizeLinear of int8
initializers. The QOperator fixtures (qlinear_*, qgemm_*, conv_integer, matmul_integer,
qoperator_chain) use ONNX's and ONNX Runtime's quantized ops instead of the float op, between
the same QuantizeLinear and DequantizeLinear. Inputs are seeded random samples: mostly random floats across and beyond the
quantized range (so that input rounding and saturation are exercised), and the first sample of
a single-input fixture walks through every int8 code, so table ops see all 256 entries.
Outputs are recorded by ONNX Runtime with graph optimizations disabled (the same recorder as
the digits fixtures). Deterministic: rerunning rewrites identical files.

Usage (from the repository root):
    /path/to/venv/bin/python examples/ops/make_op_fixtures.py [--only NAME ...]
Writes codegen-tests/models/ops/NAME.onnx and NAME.expected.json (the kernel benchmarks, which
the MCU runners measure: codegen-tests/models/NAME.*).
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples", "pytorch"))
from record_outputs import f32_list, reference_session, write_recording  # noqa: E402

OUT_DIR = os.path.join(ROOT, "codegen-tests", "models", "ops")
SAMPLES = 32
# Sample 0 of a table op already covers its whole table; a few more exercise input rounding.
TABLE_SAMPLES = 8
DEFAULT_OPSET = 13


class Graph:
    """A QDQ graph under construction: nodes, initializers, inputs."""

    def __init__(self, name):
        self.name = name
        self.nodes = []
        self.initializers = []
        self.inputs = []  # (name, shape, exponent)
        self.counter = 0

    def fresh(self, stem):
        self.counter += 1
        return f"{stem}_{self.counter}"

    def const(self, array, stem="c"):
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, stem=None, out=None, **attrs):
        out = out or self.fresh(stem or op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.fresh(op), **attrs))
        return out

    def node_outputs(self, op, inputs, count, **attrs):
        outs = [self.fresh(op.lower()) for _ in range(count)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.fresh(op), **attrs))
        return outs

    def qdq(self, x, exponent, stem="q", out=None, dtype=np.int8):
        """QuantizeLinear then DequantizeLinear at scale 2^exponent, zero point 0 (int8 unless
        `dtype` says otherwise: int16 needs opset 21)."""
        scale = self.const(np.float32(2.0**exponent), "scale")
        zero = self.const(dtype(0), "zero")
        q = self.node("QuantizeLinear", [x, scale, zero], stem)
        return self.node("DequantizeLinear", [q, scale, zero], stem + "_dq", out=out)

    def input(self, shape, exponent, dtype=np.int8):
        name = f"x{len(self.inputs)}"
        self.inputs.append((name, list(shape), exponent))
        return self.qdq(name, exponent, "xq", dtype=dtype)

    def weight(self, values, exponent, dtype=np.int8):
        """DequantizeLinear of an integer initializer at 2^exponent."""
        w = self.const(np.asarray(values, dtype=dtype), "w")
        scale = self.const(np.float32(2.0**exponent), "w_scale")
        zero = self.const(dtype(0), "w_zero")
        return self.node("DequantizeLinear", [w, scale, zero], "w_dq")

    def model_with(self, nodes, output, opset_imports):
        graph = helper.make_graph(
            nodes,
            self.name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s, _ in self.inputs],
            [output],
            self.initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=opset_imports,
            producer_name="onnx2esp examples/ops/make_op_fixtures.py",
        )
        model.ir_version = 8
        return model

    def finish(self, y, exponent, opset=DEFAULT_OPSET, dtype=np.int8):
        self.qdq(y, exponent, "yq", out="y", dtype=dtype)
        opsets = [helper.make_opsetid("", opset)]

        # The output's shape comes from ONNX shape inference, which fills in intermediate
        # values only: probe "y" through an Identity that is then dropped.
        probe = helper.make_node("Identity", ["y"], ["probe"])
        probed = self.model_with(self.nodes + [probe], helper.make_tensor_value_info("probe", TensorProto.FLOAT, None), opsets)
        inferred = onnx.shape_inference.infer_shapes(probed, strict_mode=True)
        y_info = next(v for v in inferred.graph.value_info if v.name == "y")
        model = self.model_with(self.nodes, y_info, opsets)
        onnx.checker.check_model(model, full_check=True)
        return model


def sample_inputs(rng, shape, exponent, first_walks_codes, samples, bits=8):
    """`samples` inputs of `shape` for an input quantized at 2^exponent to `bits`-bit codes."""
    n = int(np.prod(shape))
    scale = 2.0**exponent
    half = 1 << (bits - 1)
    out = []
    for s in range(samples):
        if s == 0 and first_walks_codes:
            # Every int8 code (int16: a stride through them), exactly on the grid (the other
            # samples cover saturation).
            codes = (np.arange(n) * (1 if bits == 8 else 257)) % (2 * half) - half
            x = codes * scale
        elif s % 4 == 1:
            # On the grid, with 0 and both ends first (so Div sees 0 / 0 and x / 0).
            codes = rng.integers(-half, half, size=n)
            codes[: min(n, 3)] = [0, -half, half - 1][: min(n, 3)]
            x = codes * scale
        else:
            # Off the grid and up to 30% beyond the range: input rounding and saturation.
            x = rng.uniform(-1.3, 1.3, size=n) * half * scale
        out.append(np.asarray(x, dtype=np.float32).reshape(shape))
    return out


FIXTURES = {}


def fixture(fn):
    FIXTURES[fn.__name__] = fn
    return fn


def rng_for(name):
    # Seeded from the name so that adding a fixture does not change the others.
    return np.random.default_rng(int.from_bytes(name.encode(), "little") % (2**32))


def int8_weights(rng, shape):
    return rng.integers(-127, 128, size=shape).astype(np.int8)


# ---------------------------------------------------------------------------------------------
# Elementwise binary ops with numpy broadcasting.


def binary(op, shape_a, ea, shape_b, eb, ey, name):
    g = Graph(name)
    a = g.input(shape_a, ea)
    b = g.input(shape_b, eb)
    return g.finish(g.node(op, [a, b]), ey)


@fixture
def add_broadcast_channel():
    return binary("Add", [1, 3, 4, 5], -5, [1, 3, 1, 1], -4, -4, "add_broadcast_channel")


@fixture
def add_broadcast_both():
    # Both operands broadcast: [2,1,5] + [3,1] -> [2,3,5].
    return binary("Add", [2, 1, 5], -4, [3, 1], -6, -5, "add_broadcast_both")


@fixture
def sub_same_shape():
    return binary("Sub", [1, 2, 3, 5], -4, [1, 2, 3, 5], -4, -4, "sub_same_shape")


@fixture
def sub_broadcast_rank():
    # The second operand has a lower rank: [5] against [1,3,4,5].
    return binary("Sub", [1, 3, 4, 5], -6, [5], -3, -4, "sub_broadcast_rank")


@fixture
def mul_same_shape():
    return binary("Mul", [1, 2, 3, 5], -4, [1, 2, 3, 5], -5, -6, "mul_same_shape")


@fixture
def mul_broadcast():
    return binary("Mul", [1, 3, 4, 5], -4, [1, 1, 4, 1], -7, -8, "mul_broadcast")


@fixture
def add_constant_int32():
    # A bias-like Add: an int32 DequantizeLinear constant at a finer exponent.
    rng = rng_for("add_constant_int32")
    g = Graph("add_constant_int32")
    x = g.input([1, 3, 4, 5], -4)
    c = g.weight(rng.integers(-5000, 5000, size=[3, 1, 1]), -9, np.int32)
    return g.finish(g.node("Add", [x, c]), -4)


@fixture
def mul_constant_int8():
    # A per-channel scale: an int8 DequantizeLinear constant.
    g = Graph("mul_constant_int8")
    x = g.input([1, 3, 4, 5], -4)
    c = g.weight(np.array([100, -37, 5], dtype=np.int8).reshape(3, 1, 1), -6)
    return g.finish(g.node("Mul", [x, c]), -4)


@fixture
def sub_constant_first():
    # The constant is the first operand: c - x.
    g = Graph("sub_constant_first")
    x = g.input([1, 3, 4, 5], -5)
    c = g.weight(np.array([1, -2, 3, 4, -5], dtype=np.int8), -2)
    return g.finish(g.node("Sub", [c, x]), -4)


@fixture
def div_broadcast():
    # y = a / b at shift k = ea - eb - ey = -2 (exact for k >= -8), b = 0 included.
    return binary("Div", [1, 3, 4, 5], -4, [1, 3, 1, 5], -3, -3, "div_broadcast")


@fixture
def swish_fused():
    # x * Sigmoid(x) with the Sigmoid output not quantized: one table of x * sigmoid(x).
    g = Graph("swish_fused")
    x = g.input([1, 4, 8, 8], -5)
    return g.finish(g.node("Mul", [x, g.node("Sigmoid", [x])]), -5)


@fixture
def swish_qdq():
    # The QDQ form: the Sigmoid output is quantized, then multiplied (a table and a Mul).
    g = Graph("swish_qdq")
    x = g.input([1, 4, 8, 8], -5)
    s = g.qdq(g.node("Sigmoid", [x]), -7, "sig")
    return g.finish(g.node("Mul", [x, s]), -5)


@fixture
def pow_square():
    g = Graph("pow_square")
    x = g.input([1, 4, 8, 8], -5)
    return g.finish(g.node("Pow", [x, g.const(np.float32(2.0), "p")]), -5)


@fixture
def pow_cube():
    g = Graph("pow_cube")
    x = g.input([1, 4, 8, 8], -4)
    return g.finish(g.node("Pow", [x, g.const(np.float32(3.0), "p")]), 0)


@fixture
def mod_fmod():
    g = Graph("mod_fmod")
    a = g.input([1, 3, 4, 5], -4)
    b = g.input([1, 3, 1, 5], -3)
    return g.finish(g.node("Mod", [a, b], fmod=1), -5)


def comparison(op, name, ey):
    # Coarse input grids so that equal values are common; the boolean is Cast to float.
    g = Graph(name)
    a = g.input([1, 3, 4, 5], -1)
    b = g.input([1, 3, 1, 5], -2)
    y = g.node("Cast", [g.node(op, [a, b])], to=TensorProto.FLOAT)
    return g.finish(y, ey)


@fixture
def compare_equal():
    return comparison("Equal", "compare_equal", -3)


@fixture
def compare_greater():
    return comparison("Greater", "compare_greater", 0)


@fixture
def compare_greater_or_equal():
    return comparison("GreaterOrEqual", "compare_greater_or_equal", -8)


@fixture
def compare_less():
    return comparison("Less", "compare_less", -2)


@fixture
def compare_less_or_equal():
    return comparison("LessOrEqual", "compare_less_or_equal", -1)


# ---------------------------------------------------------------------------------------------
# Concat, activations, pools.


@fixture
def concat_mixed_exponents():
    g = Graph("concat_mixed_exponents")
    a = g.input([1, 2, 3, 4], -4)
    b = g.input([1, 3, 3, 4], -6)
    c = g.input([1, 1, 3, 4], -3)
    return g.finish(g.node("Concat", [a, b, c], axis=1), -5)


@fixture
def concat_last_axis():
    g = Graph("concat_last_axis")
    a = g.input([2, 3, 2], -5)
    b = g.input([2, 3, 4], -5)
    return g.finish(g.node("Concat", [a, b], axis=-1), -5)


@fixture
def leaky_relu():
    g = Graph("leaky_relu")
    x = g.input([1, 4, 8, 8], -5)
    return g.finish(g.node("LeakyRelu", [x], alpha=0.1), -6)


@fixture
def prelu_per_channel():
    g = Graph("prelu_per_channel")
    x = g.input([1, 4, 8, 8], -4)
    slope = g.const(np.array([0.25, -0.3, 0.01, 1.7], dtype=np.float32).reshape(4, 1, 1), "slope")
    return g.finish(g.node("PRelu", [x, slope]), -5)


@fixture
def prelu_quantized_slope():
    g = Graph("prelu_quantized_slope")
    x = g.input([1, 4, 8, 8], -4)
    slope = g.weight(np.array([13, -40, 3, 100]).reshape(4, 1, 1), -7)
    return g.finish(g.node("PRelu", [x, slope]), -4)


@fixture
def global_max_pool():
    g = Graph("global_max_pool")
    x = g.input([1, 3, 4, 5], -5)
    return g.finish(g.node("GlobalMaxPool", [x]), -5)


@fixture
def conv1d_pads_stride():
    rng = rng_for("conv1d_pads_stride")
    g = Graph("conv1d_pads_stride")
    x = g.input([1, 4, 16], -5)
    w = g.weight(int8_weights(rng, [6, 4, 3]), -7)
    bias = g.weight(rng.integers(-2000, 2000, size=[6]), -12, np.int32)
    y = g.node("Conv", [x, w, bias], kernel_shape=[3], pads=[1, 2], strides=[2])
    return g.finish(y, -4)


@fixture
def conv1d_depthwise_dilated():
    rng = rng_for("conv1d_depthwise_dilated")
    g = Graph("conv1d_depthwise_dilated")
    x = g.input([1, 4, 16], -5)
    w = g.weight(int8_weights(rng, [4, 1, 3]), -6)
    y = g.node("Conv", [x, w], group=4, dilations=[2], pads=[2, 2])
    return g.finish(g.node("Relu", [y]), -4)


@fixture
def conv_transpose_stride2():
    rng = rng_for("conv_transpose_stride2")
    g = Graph("conv_transpose_stride2")
    x = g.input([1, 3, 4, 5], -5)
    w = g.weight(int8_weights(rng, [3, 4, 3, 3]), -7)
    bias = g.weight(rng.integers(-3000, 3000, size=[4]), -12, np.int32)
    y = g.node("ConvTranspose", [x, w, bias], strides=[2, 2], pads=[1, 0, 0, 1], output_padding=[1, 0])
    return g.finish(y, -4)


@fixture
def conv_transpose1d_groups():
    rng = rng_for("conv_transpose1d_groups")
    g = Graph("conv_transpose1d_groups")
    x = g.input([1, 4, 7], -5)
    w = g.weight(int8_weights(rng, [4, 3, 3]), -6)
    y = g.node("ConvTranspose", [x, w], group=2, strides=[3], dilations=[2], pads=[2, 1])
    return g.finish(g.node("Relu", [y]), -3)


@fixture
def conv2d_same_upper_stride2():
    rng = rng_for("conv2d_same_upper_stride2")
    g = Graph("conv2d_same_upper_stride2")
    x = g.input([1, 3, 7, 6], -5)
    w = g.weight(int8_weights(rng, [4, 3, 3, 2]), -7)
    bias = g.weight(rng.integers(-3000, 3000, size=[4]), -12, np.int32)
    y = g.node("Conv", [x, w, bias], auto_pad="SAME_UPPER", strides=[2, 2])
    return g.finish(y, -4)


@fixture
def conv2d_grouped_dilated():
    rng = rng_for("conv2d_grouped_dilated")
    g = Graph("conv2d_grouped_dilated")
    x = g.input([1, 4, 7, 7], -5)
    w = g.weight(int8_weights(rng, [6, 2, 3, 3]), -7)
    y = g.node("Conv", [x, w], group=2, dilations=[2, 1], pads=[2, 0, 1, 1])
    lo = g.const(np.float32(-0.5), "lo")
    hi = g.const(np.float32(1.5), "hi")
    return g.finish(g.node("Clip", [y, lo, hi]), -5)


@fixture
def avgpool2d_count_include_pad():
    g = Graph("avgpool2d_count_include_pad")
    x = g.input([1, 2, 5, 6], -5)
    y = g.node("AveragePool", [x], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 0, 1], count_include_pad=1)
    return g.finish(y, -6)


@fixture
def avgpool2d_exclude_pad_ceil():
    g = Graph("avgpool2d_exclude_pad_ceil")
    x = g.input([1, 2, 5, 6], -5)
    y = g.node("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1)
    return g.finish(y, -5)


@fixture
def maxpool2d_ceil_dilated():
    g = Graph("maxpool2d_ceil_dilated")
    x = g.input([1, 2, 7, 6], -5)
    y = g.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 1], pads=[0, 1, 1, 0], ceil_mode=1)
    return g.finish(y, -5)


@fixture
def global_average_pool1d():
    g = Graph("global_average_pool1d")
    x = g.input([1, 3, 10], -5)
    return g.finish(g.node("GlobalAveragePool", [x]), -7)


@fixture
def clip_standalone():
    # Clip of a quantized activation (no layer to fuse into). The bound 0.32 is 10.24 steps at
    # 2^-5 but 2.56 at 2^-3: clamping at the input exponent (10, then 10/4 -> 2) would round
    # twice; ONNX Runtime gives round(2.56) = 3.
    g = Graph("clip_standalone")
    x = g.input([1, 3, 4, 5], -5)
    lo = g.const(np.float32(-1.0), "lo")
    hi = g.const(np.float32(0.32), "hi")
    return g.finish(g.node("Clip", [x, lo, hi]), -3)


@fixture
def maxpool1d():
    g = Graph("maxpool1d")
    x = g.input([1, 3, 15], -5)
    return g.finish(g.node("MaxPool", [x], kernel_shape=[3], strides=[2], pads=[1, 1]), -5)


@fixture
def relu_then_maxpool_in_float():
    """DequantizeLinear -> Relu -> MaxPool -> QuantizeLinear, as ONNX Runtime's QOperator
    models leave them: the Relu output is materialized at its input's exponent."""
    g = Graph("relu_then_maxpool_in_float")
    x = g.input([1, 3, 6, 6], -5)
    r = g.node("Relu", [x])
    return g.finish(g.node("MaxPool", [r], kernel_shape=[2, 2], strides=[2, 2]), -4)


@fixture
def avgpool1d_ceil():
    g = Graph("avgpool1d_ceil")
    x = g.input([1, 3, 15], -5)
    y = g.node("AveragePool", [x], kernel_shape=[4], strides=[3], ceil_mode=1)
    return g.finish(y, -6)


@fixture
def gemm_trans_alpha_beta():
    rng = rng_for("gemm_trans_alpha_beta")
    g = Graph("gemm_trans_alpha_beta")
    x = g.input([6, 3], -5)  # transA: A is [K, M]
    w = g.weight(int8_weights(rng, [4, 6]), -6)  # transB: B is [N, K]
    c = g.weight(rng.integers(-3000, 3000, size=[4]), -11, np.int32)
    y = g.node("Gemm", [x, w, c], transA=1, transB=1, alpha=0.5, beta=2.0)
    return g.finish(y, -4)


@fixture
def matmul_batched():
    # Two activations; A's batch [2, 3] against B's [3]: broadcast.
    g = Graph("matmul_batched")
    a = g.input([2, 3, 4, 5], -4)
    b = g.input([3, 5, 6], -5)
    return g.finish(g.node("MatMul", [a, b]), -3)


@fixture
def matmul_weight():
    rng = rng_for("matmul_weight")
    g = Graph("matmul_weight")
    x = g.input([2, 3, 5], -4)
    w = g.weight(int8_weights(rng, [5, 4]), -7)
    return g.finish(g.node("MatMul", [x, w]), -4)


# ---------------------------------------------------------------------------------------------
# Layout ops: pure moves, requantized when the output exponent differs.


@fixture
def transpose():
    g = Graph("transpose")
    x = g.input([1, 3, 4, 5], -5)
    return g.finish(g.node("Transpose", [x], perm=[0, 2, 3, 1]), -4)


@fixture
def squeeze_unsqueeze():
    g = Graph("squeeze_unsqueeze")
    x = g.input([1, 3, 1, 5], -5)
    y = g.node("Squeeze", [x, g.const(np.array([2], dtype=np.int64), "axes")])
    y = g.node("Unsqueeze", [y, g.const(np.array([0, -1], dtype=np.int64), "axes")])
    return g.finish(y, -5)


@fixture
def slice_steps():
    g = Graph("slice_steps")
    x = g.input([1, 4, 6, 7], -5)
    starts = g.const(np.array([3, -1, 1], dtype=np.int64), "starts")
    ends = g.const(np.array([0, -100, 2**62], dtype=np.int64), "ends")
    axes = g.const(np.array([1, 2, 3], dtype=np.int64), "axes")
    steps = g.const(np.array([-1, -2, 3], dtype=np.int64), "steps")
    return g.finish(g.node("Slice", [x, starts, ends, axes, steps]), -6)


@fixture
def split():
    # Split has several outputs; they are quantized and concatenated back in another order.
    g = Graph("split")
    x = g.input([1, 6, 2, 3], -5)
    sizes = g.const(np.array([1, 3, 2], dtype=np.int64), "split")
    parts = g.node_outputs("Split", [x, sizes], 3, axis=1)
    parts = [g.qdq(p, e, "part") for p, e in zip(parts, [-5, -4, -6])]
    return g.finish(g.node("Concat", [parts[2], parts[0], parts[1]], axis=1), -5)


@fixture
def pad_constant():
    g = Graph("pad_constant")
    x = g.input([1, 2, 3, 4], -5)
    pads = g.const(np.array([0, 0, 1, 2, 0, 1, 2, -1], dtype=np.int64), "pads")
    value = g.const(np.float32(0.3), "value")
    return g.finish(g.node("Pad", [x, pads, value], mode="constant"), -4)


@fixture
def pad_reflect():
    g = Graph("pad_reflect")
    x = g.input([1, 2, 4, 5], -5)
    pads = g.const(np.array([0, 0, 2, 1, 0, 0, 1, 3], dtype=np.int64), "pads")
    return g.finish(g.node("Pad", [x, pads], mode="reflect"), -5)


@fixture
def pad_edge():
    g = Graph("pad_edge")
    x = g.input([1, 2, 3, 4], -5)
    pads = g.const(np.array([0, 1, 2, 0, 0, 0, 1, 3], dtype=np.int64), "pads")
    return g.finish(g.node("Pad", [x, pads], mode="edge"), -6)


@fixture
def gather_constant():
    g = Graph("gather_constant")
    x = g.input([1, 5, 3, 4], -5)
    indices = g.const(np.array([[4, 0], [-1, 2]], dtype=np.int64), "indices")
    return g.finish(g.node("Gather", [x, indices], axis=1), -5)


@fixture
def depth_to_space_dcr():
    g = Graph("depth_to_space_dcr")
    x = g.input([1, 8, 2, 3], -5)
    return g.finish(g.node("DepthToSpace", [x], blocksize=2, mode="DCR"), -5)


@fixture
def depth_to_space_crd():
    g = Graph("depth_to_space_crd")
    x = g.input([1, 8, 2, 3], -5)
    return g.finish(g.node("DepthToSpace", [x], blocksize=2, mode="CRD"), -6)


@fixture
def space_to_depth():
    g = Graph("space_to_depth")
    x = g.input([1, 2, 4, 6], -5)
    return g.finish(g.node("SpaceToDepth", [x], blocksize=2), -5)


def reverse_sequence(name, shape, lens, batch_axis, time_axis, ey):
    g = Graph(name)
    x = g.input(shape, -5)
    lens = g.const(np.array(lens, dtype=np.int64), "sequence_lens")
    return g.finish(g.node("ReverseSequence", [x, lens], batch_axis=batch_axis, time_axis=time_axis), ey)


@fixture
def reverse_sequence_time_major():
    # [time, batch, features] (batch_axis 1, time_axis 0); lengths from none reversed to all.
    return reverse_sequence("reverse_sequence_time_major", [4, 3, 5], [4, 1, 3], 1, 0, -5)


@fixture
def reverse_sequence_batch_major():
    # [batch, time, features] (batch_axis 0, time_axis 1), requantized to a coarser exponent.
    return reverse_sequence("reverse_sequence_batch_major", [3, 5, 2], [2, 5, 3], 0, 1, -4)


@fixture
def scatter_nd_slices():
    # Rank 3 data, indices naming whole [3, 5] slices; updates at a finer exponent than the
    # data and the output, so both are requantized.
    g = Graph("scatter_nd_slices")
    data = g.input([4, 3, 5], -4)
    indices = g.const(np.array([[3], [1]], dtype=np.int64), "indices")
    updates = g.input([2, 3, 5], -6)
    return g.finish(g.node("ScatterND", [data, indices, updates]), -5)


@fixture
def scatter_nd_rows_constant_updates():
    # Rank 3 data, indices naming rows of the last axis (negative index included); the
    # updates are a DequantizeLinear of int8 constants.
    g = Graph("scatter_nd_rows_constant_updates")
    rng = rng_for("scatter_nd_rows_constant_updates")
    data = g.input([2, 3, 4], -5)
    indices = g.const(np.array([[[0, 1], [1, -1]], [[1, 0], [0, 2]]], dtype=np.int64), "indices")
    updates = g.weight(int8_weights(rng, [2, 2, 4]), -6)
    return g.finish(g.node("ScatterND", [data, indices, updates]), -5)


@fixture
def scatter_nd_elements():
    # Indices naming single elements (the whole index tuple), at the output's exponent.
    g = Graph("scatter_nd_elements")
    data = g.input([2, 3, 4], -5)
    indices = g.const(np.array([[0, 0, 0], [1, 2, 3], [0, 2, 1], [1, 0, 2]], dtype=np.int64), "indices")
    updates = g.input([4], -5)
    return g.finish(g.node("ScatterND", [data, indices, updates]), -5)


def scatter_nd_reduction(name, reduction, opset=16):
    """Rank 3 data and row indices with repeats, so that updates combine in index order;
    the updates at a finer exponent than the data, the output coarser than both."""
    g = Graph(name)
    data = g.input([2, 3, 4], -4)
    indices = g.const(np.array([[0, 1], [1, 2], [0, 1], [1, 0], [0, 1]], dtype=np.int64), "indices")
    updates = g.input([5, 4], -5)
    return g.finish(g.node("ScatterND", [data, indices, updates], reduction=reduction), -3, opset=opset)


@fixture
def scatter_nd_add():
    return scatter_nd_reduction("scatter_nd_add", "add")


@fixture
def scatter_nd_mul():
    # At most two updates per element (the third [0, 1] is in scatter_nd_add's): a product of
    # three int8 values stays exact in f32.
    g = Graph("scatter_nd_mul")
    data = g.input([2, 3, 4], -4)
    indices = g.const(np.array([[0, 1], [1, 2], [0, 1], [1, 0], [1, 2]], dtype=np.int64), "indices")
    updates = g.input([5, 4], -5)
    return g.finish(g.node("ScatterND", [data, indices, updates], reduction="mul"), 2, opset=16)


@fixture
def scatter_nd_max():
    return scatter_nd_reduction("scatter_nd_max", "max", opset=18)


@fixture
def scatter_nd_min():
    return scatter_nd_reduction("scatter_nd_min", "min", opset=18)


@fixture
def scatter_nd_add_constant_updates():
    """Element indices with repeats and constant updates (a DequantizeLinear of int8)."""
    rng = rng_for("scatter_nd_add_constant_updates")
    g = Graph("scatter_nd_add_constant_updates")
    data = g.input([3, 4], -5)
    indices = g.const(np.array([[0, 0], [2, 3], [0, 0], [1, 1], [0, 0]], dtype=np.int64), "indices")
    updates = g.weight(int8_weights(rng, [5]), -6)
    return g.finish(g.node("ScatterND", [data, indices, updates], reduction="add"), -4, opset=16)


@fixture
def scatter_nd_add_int16():
    """int16 data and updates (repeated indices), int16 output."""
    g = Graph("scatter_nd_add_int16")
    data = g.input([2, 3, 4], -10, dtype=np.int16)
    indices = g.const(np.array([[0, 1], [1, 2], [0, 1], [1, 0], [0, 1]], dtype=np.int64), "indices")
    updates = g.input([5, 4], -11, dtype=np.int16)
    y = g.node("ScatterND", [data, indices, updates], reduction="add")
    return g.finish(y, -9, opset=INT16_OPSET, dtype=np.int16)


@fixture
def scatter_nd_max_int16_to_int8():
    """int16 data, int8 updates, max, an int8 output: the requantization saturates."""
    g = Graph("scatter_nd_max_int16_to_int8")
    data = g.input([2, 3, 4], -10, dtype=np.int16)
    indices = g.const(np.array([[1, 1], [0, 2], [1, 1]], dtype=np.int64), "indices")
    updates = g.input([3, 4], -5)
    y = g.node("ScatterND", [data, indices, updates], reduction="max")
    return g.finish(y, -4, opset=INT16_OPSET)


@fixture
def scatter_nd_slices_int16():
    """Reduction none: int16 data, int8 updates, int16 output."""
    g = Graph("scatter_nd_slices_int16")
    data = g.input([4, 3, 5], -9, dtype=np.int16)
    indices = g.const(np.array([[3], [1]], dtype=np.int64), "indices")
    updates = g.input([2, 3, 5], -6)
    return g.finish(g.node("ScatterND", [data, indices, updates]), -8, opset=INT16_OPSET, dtype=np.int16)


@fixture
def lp_norm_p2_last_axis():
    g = Graph("lp_norm_p2_last_axis")
    x = g.input([2, 3, 8], -3)
    return g.finish(g.node("LpNormalization", [x], axis=-1, p=2), -7)


@fixture
def lp_norm_p1_channels():
    # Through a Relu, so that whole vectors are zero (ONNX Runtime writes 0 for a zero norm).
    g = Graph("lp_norm_p1_channels")
    x = g.input([1, 4, 3, 5], -4)
    y = g.node("LpNormalization", [g.node("Relu", [x])], axis=1, p=1)
    return g.finish(y, -7)


@fixture
def lp_norm_p2_middle_axis():
    # A strided axis with a long vector (the f32 sum of squares stays exact up to 1024).
    g = Graph("lp_norm_p2_middle_axis")
    x = g.input([2, 40, 3], -5)
    return g.finish(g.node("LpNormalization", [x], axis=1, p=2), -8)


@fixture
def resize_nearest_half_pixel():
    g = Graph("resize_nearest_half_pixel")
    x = g.input([1, 2, 3, 4], -5)
    scales = g.const(np.array([1, 1, 2.5, 1.5], dtype=np.float32), "scales")
    y = g.node("Resize", [x, "", scales], mode="nearest")
    return g.finish(y, -5)


@fixture
def resize_nearest_asymmetric():
    g = Graph("resize_nearest_asymmetric")
    x = g.input([1, 2, 3, 4], -5)
    sizes = g.const(np.array([1, 2, 6, 8], dtype=np.int64), "sizes")
    y = g.node("Resize", [x, "", "", sizes], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return g.finish(y, -4)


@fixture
def resize_nearest_opset10():
    # Opset 10: (X, scales), asymmetric, and its own rounding: ceil when downsampling (H),
    # truncation when upsampling (W).
    g = Graph("resize_nearest_opset10")
    x = g.input([1, 2, 5, 4], -5)
    scales = g.const(np.array([1, 1, 0.6, 1.5], dtype=np.float32), "scales")
    y = g.node("Resize", [x, scales], mode="nearest")
    return g.finish(y, -5, opset=10)


# Resize linear: ONNX Runtime's bilinear (NCHW) and trilinear (NCL) interpolation in f32.
# Dyadic weights (2x half_pixel, asymmetric 2x/4x, halving) take the integer path; the others
# (1.5x, 0.75x, align_corners, pytorch_half_pixel onto 9) the f32 one.


def resize_linear(name, shape, ex, ey, scales=None, sizes=None, opset=DEFAULT_OPSET, **attrs):
    g = Graph(name)
    x = g.input(shape, ex)
    if opset < 11:
        inputs = [x, g.const(np.array(scales, dtype=np.float32), "scales")]
    elif sizes is not None:
        inputs = [x, "", "", g.const(np.array(sizes, dtype=np.int64), "sizes")]
    else:
        inputs = [x, "", g.const(np.array(scales, dtype=np.float32), "scales")]
    y = g.node("Resize", inputs, mode="linear", **attrs)
    return g.finish(y, ey, opset=opset)


@fixture
def resize_linear_half_pixel_2x():
    return resize_linear("resize_linear_half_pixel_2x", [1, 2, 4, 5], -5, -5, scales=[1, 1, 2, 2])


@fixture
def resize_linear_align_corners():
    return resize_linear("resize_linear_align_corners", [1, 2, 3, 4], -5, -6, sizes=[1, 2, 5, 6],
                         coordinate_transformation_mode="align_corners")


@fixture
def resize_linear_asymmetric():
    return resize_linear("resize_linear_asymmetric", [1, 2, 3, 4], -5, -4, scales=[1, 1, 2, 4],
                         coordinate_transformation_mode="asymmetric")


@fixture
def resize_linear_scale_1_5():
    return resize_linear("resize_linear_scale_1_5", [2, 2, 4, 6], -5, -5, scales=[1, 1, 1.5, 1.5])


@fixture
def resize_linear_downscale_sizes():
    # H halves (dyadic), W goes 8 -> 6 (scale 0.75, not dyadic).
    return resize_linear("resize_linear_downscale_sizes", [1, 3, 8, 8], -5, -5, sizes=[1, 3, 4, 6])


@fixture
def resize_linear_1d():
    return resize_linear("resize_linear_1d", [1, 3, 8], -5, -5, scales=[1, 1, 2])


@fixture
def resize_linear_1d_pytorch_half_pixel():
    # Batch 2: ONNX Runtime's trilinear kernel treats N and C as axes of scale 1.
    return resize_linear("resize_linear_1d_pytorch_half_pixel", [2, 3, 6], -5, -6, sizes=[2, 3, 9],
                         coordinate_transformation_mode="pytorch_half_pixel")


@fixture
def resize_linear_opset10():
    # Opset 10: (X, scales) and the asymmetric transform, the only one then.
    return resize_linear("resize_linear_opset10", [1, 2, 3, 4], -5, -5, scales=[1, 1, 2, 1.5], opset=10)


# ---------------------------------------------------------------------------------------------
# Reductions (opset 13: axes are attributes, except ReduceSum's input).


def reduction(op, name, axes, keepdims, ex, ey):
    g = Graph(name)
    x = g.input([2, 3, 4, 5], ex)
    if op == "ReduceSum":
        y = g.node(op, [x, g.const(np.array(axes, dtype=np.int64), "axes")], keepdims=keepdims)
    else:
        y = g.node(op, [x], axes=axes, keepdims=keepdims)
    return g.finish(y, ey)


@fixture
def reduce_sum():
    return reduction("ReduceSum", "reduce_sum", [1, 3], 1, -5, -2)


@fixture
def reduce_mean():
    return reduction("ReduceMean", "reduce_mean", [2, 3], 0, -5, -6)


@fixture
def reduce_max():
    return reduction("ReduceMax", "reduce_max", [1], 0, -5, -5)


@fixture
def reduce_min():
    return reduction("ReduceMin", "reduce_min", [-1], 1, -5, -4)


@fixture
def reduce_sum_square():
    return reduction("ReduceSumSquare", "reduce_sum_square", [1, 2], 0, -4, 2)


@fixture
def reduce_l2():
    return reduction("ReduceL2", "reduce_l2", [1, 3], 1, -5, -3)


@fixture
def reduce_l1():
    return reduction("ReduceL1", "reduce_l1", [0, 3], 1, -5, -2)


@fixture
def reduce_prod():
    return reduction("ReduceProd", "reduce_prod", [2], 0, -5, 0)


@fixture
def reduce_log_sum():
    # Relu first: the sums are mostly positive (a negative sum is NaN), with zeros (-inf).
    g = Graph("reduce_log_sum")
    x = g.input([2, 3, 4, 5], -5)
    r = g.qdq(g.node("Relu", [x]), -5, "r")
    return g.finish(g.node("ReduceLogSum", [r], axes=[2, 3], keepdims=1), -5)


@fixture
def reduce_log_sum_exp():
    return reduction("ReduceLogSumExp", "reduce_log_sum_exp", [1, 3], 0, -4, -3)


@fixture
def softmax_last_axis():
    g = Graph("softmax_last_axis")
    x = g.input([2, 3, 10], -4)
    return g.finish(g.node("Softmax", [x]), -7)


@fixture
def softmax_channels():
    g = Graph("softmax_channels")
    x = g.input([1, 5, 3, 4], -3)
    return g.finish(g.node("Softmax", [x], axis=1), -8)


@fixture
def log_softmax_last_axis():
    g = Graph("log_softmax_last_axis")
    x = g.input([2, 3, 10], -4)
    return g.finish(g.node("LogSoftmax", [x]), -3)


@fixture
def log_softmax_channels():
    g = Graph("log_softmax_channels")
    x = g.input([1, 5, 3, 4], -3)
    return g.finish(g.node("LogSoftmax", [x], axis=1), -2)


@fixture
def layer_norm_last_axis():
    g = Graph("layer_norm_last_axis")
    rng = rng_for("layer_norm_last_axis")
    x = g.input([2, 3, 16], -4)
    scale = g.const(rng.uniform(0.5, 1.5, size=[16]).astype(np.float32), "scale")
    bias = g.const(rng.uniform(-0.5, 0.5, size=[16]).astype(np.float32), "bias")
    y = g.node("LayerNormalization", [x, scale, bias], epsilon=1e-5)
    return g.finish(y, -5, 17)


@fixture
def layer_norm_channels_no_bias():
    # Normalised over the last three axes; the scale is a DequantizeLinear of int8.
    g = Graph("layer_norm_channels_no_bias")
    rng = rng_for("layer_norm_channels_no_bias")
    x = g.input([2, 4, 3, 5], -3)
    scale = g.weight(int8_weights(rng, [4, 3, 5]), -6)
    y = g.node("LayerNormalization", [x, scale], axis=1, epsilon=1e-3)
    return g.finish(y, -5, 17)


@fixture
def rms_norm():
    g = Graph("rms_norm")
    rng = rng_for("rms_norm")
    x = g.input([2, 3, 16], -4)
    scale = g.const(rng.uniform(0.5, 1.5, size=[16]).astype(np.float32), "scale")
    y = g.node("RMSNormalization", [x, scale], epsilon=1e-5)
    return g.finish(y, -5, 23)


# ---------------------------------------------------------------------------------------------
# Table ops: one input walking all 256 codes in sample 0, output exponent sized to the range.


def unary(op, name, ex, ey, opset=DEFAULT_OPSET, **attrs):
    g = Graph(name)
    x = g.input([1, 4, 8, 8], ex)
    return g.finish(g.node(op, [x], **attrs), ey, opset)


# ---------------------------------------------------------------------------------------------
# Per-channel weights (DequantizeLinear with `axis` and a 1-D power-of-two scale): a different
# exponent per output channel, so a per-channel bias exponent and requantization shift.


def channel_weight(g, values, exponents, axis, dtype=np.int8):
    """DequantizeLinear of an integer initializer with scale 2^exponents[i] along `axis`."""
    w = g.const(np.asarray(values, dtype=dtype), "w")
    scale = g.const(np.float32(2.0) ** np.asarray(exponents, dtype=np.float32), "w_scale")
    zero = g.const(np.zeros(len(exponents), dtype=dtype), "w_zero")
    return g.node("DequantizeLinear", [w, scale, zero], "w_dq", axis=axis)


@fixture
def conv2d_per_channel():
    # ESP-PPQ style: int32 bias at ex + ew[c] per channel, then Relu.
    rng = rng_for("conv2d_per_channel")
    g = Graph("conv2d_per_channel")
    x = g.input([1, 3, 6, 6], -5)
    ew = [-6, -8, -5, -7]
    w = channel_weight(g, int8_weights(rng, [4, 3, 3, 3]), ew, 0)
    bias = channel_weight(g, rng.integers(-3000, 3000, size=[4]), [-5 + e for e in ew], 0, np.int32)
    y = g.node("Conv", [x, w, bias], pads=[1, 1, 1, 1])
    return g.finish(g.node("Relu", [y]), -4)


@fixture
def conv2d_pointwise_per_channel():
    # 1x1 convolution (the pointwise kernel's register tiles: with 6 input channels, blocks
    # of 3 output channels): 5 channels leave 2 over; two images; per-channel weights and
    # bias; Relu.
    rng = rng_for("conv2d_pointwise_per_channel")
    g = Graph("conv2d_pointwise_per_channel")
    x = g.input([2, 6, 5, 5], -5)
    ew = [-6, -8, -5, -7, -6]
    w = channel_weight(g, int8_weights(rng, [5, 6, 1, 1]), ew, 0)
    bias = channel_weight(g, rng.integers(-3000, 3000, size=[5]), [-5 + e for e in ew], 0, np.int32)
    y = g.node("Conv", [x, w, bias])
    return g.finish(g.node("Relu", [y]), -4)


@fixture
def conv1d_depthwise_per_channel():
    rng = rng_for("conv1d_depthwise_per_channel")
    g = Graph("conv1d_depthwise_per_channel")
    x = g.input([1, 4, 9], -5)
    w = channel_weight(g, int8_weights(rng, [4, 1, 3]), [-5, -7, -6, -9], 0)
    return g.finish(g.node("Conv", [x, w], group=4, pads=[1, 1]), -5)


@fixture
def conv2d_grouped_per_channel():
    rng = rng_for("conv2d_grouped_per_channel")
    g = Graph("conv2d_grouped_per_channel")
    x = g.input([1, 4, 5, 5], -5)
    w = channel_weight(g, int8_weights(rng, [6, 2, 3, 3]), [-7, -6, -8, -5, -7, -9], 0)
    return g.finish(g.node("Conv", [x, w], group=2, strides=[2, 1]), -4)


@fixture
def gemm_per_channel_trans_b():
    # transB: B is [N, K], so the output features are weight axis 0; alpha moves them all.
    rng = rng_for("gemm_per_channel_trans_b")
    g = Graph("gemm_per_channel_trans_b")
    x = g.input([3, 6], -5)
    ew = [-6, -8, -7, -5]
    w = channel_weight(g, int8_weights(rng, [4, 6]), ew, 0)
    c = channel_weight(g, rng.integers(-3000, 3000, size=[4]), [-6 + e for e in ew], 0, np.int32)
    y = g.node("Gemm", [x, w, c], transB=1, alpha=0.5)
    return g.finish(y, -4)


@fixture
def matmul_per_channel():
    # B is [K, N]: the output features are weight axis 1.
    rng = rng_for("matmul_per_channel")
    g = Graph("matmul_per_channel")
    x = g.input([2, 3, 5], -4)
    w = channel_weight(g, int8_weights(rng, [5, 4]), [-7, -5, -9, -6], 1)
    return g.finish(g.node("MatMul", [x, w]), -4)


@fixture
def conv_transpose_per_channel():
    # Weights [C, M/group, k]: per channel along axis 1, the output channels of one group.
    rng = rng_for("conv_transpose_per_channel")
    g = Graph("conv_transpose_per_channel")
    x = g.input([1, 4, 6], -5)
    w = channel_weight(g, int8_weights(rng, [4, 3, 3]), [-6, -8, -5], 1)
    y = g.node("ConvTranspose", [x, w], group=2, strides=[2], pads=[1, 0])
    return g.finish(y, -4)


@fixture
def conv2d_wide_accumulator():
    # Biases next to +-2^31 (exact in f32) make the worst case exceed i32: the layer
    # accumulates in i64. Those channels saturate; the small-bias ones give ordinary values.
    rng = rng_for("conv2d_wide_accumulator")
    g = Graph("conv2d_wide_accumulator")
    x = g.input([1, 2, 5, 5], -4)
    w = g.weight(int8_weights(rng, [4, 2, 3, 3]), -6)
    bias = g.weight(np.array([2147483520, -2147483520, 1234, -777]), -10, np.int32)
    return g.finish(g.node("Conv", [x, w, bias], pads=[1, 1, 1, 1]), -4)



@fixture
def conv2d_depthwise_multiplier():
    # Depthwise with two output channels per input channel; a dilated row (extent 5),
    # asymmetric pads: 12 interior columns computed four per step between checked borders.
    rng = rng_for("conv2d_depthwise_multiplier")
    g = Graph("conv2d_depthwise_multiplier")
    x = g.input([1, 3, 5, 16], -5)
    w = g.weight(int8_weights(rng, [6, 1, 3, 3]), -6)
    bias = g.weight(rng.integers(-2000, 2000, size=[6]), -11, np.int32)
    y = g.node("Conv", [x, w, bias], group=3, dilations=[1, 2], pads=[1, 3, 2, 0])
    return g.finish(g.node("Relu", [y]), -4)


@fixture
def conv2d_wide_kernel_pads():
    # A kernel wider than the input and pads beyond the kernel, two images: no output column
    # has all its taps inside a row, and the first output row reads only padding (its
    # outputs are the bias alone).
    rng = rng_for("conv2d_wide_kernel_pads")
    g = Graph("conv2d_wide_kernel_pads")
    x = g.input([2, 2, 3, 4], -5)
    w = g.weight(int8_weights(rng, [3, 2, 3, 5]), -7)
    bias = g.weight(rng.integers(-3000, 3000, size=[3]), -12, np.int32)
    y = g.node("Conv", [x, w, bias], pads=[3, 1, 0, 4])
    return g.finish(y, -4)


@fixture
def conv1d_wide_kernel():
    # A kernel longer than the input: all 20 output columns read padding, too many to write
    # out one by one, so the kernel loops over them testing every tap.
    rng = rng_for("conv1d_wide_kernel")
    g = Graph("conv1d_wide_kernel")
    x = g.input([1, 2, 20], -5)
    w = g.weight(int8_weights(rng, [3, 2, 25]), -8)
    bias = g.weight(rng.integers(-3000, 3000, size=[3]), -13, np.int32)
    y = g.node("Conv", [x, w, bias], pads=[12, 12])
    return g.finish(y, -4)


TABLE_OPS = {
    # name: (op, input exponent, output exponent, opset, attributes)
    "sigmoid": ("Sigmoid", -5, -7, DEFAULT_OPSET, {}),
    "tanh": ("Tanh", -5, -7, DEFAULT_OPSET, {}),
    "hard_sigmoid": ("HardSigmoid", -5, -7, DEFAULT_OPSET, {"alpha": 0.25, "beta": 0.5}),
    "hard_swish": ("HardSwish", -4, -4, 14, {}),
    "elu": ("Elu", -5, -6, DEFAULT_OPSET, {"alpha": 0.7}),
    "exp": ("Exp", -5, -2, DEFAULT_OPSET, {}),
    "log": ("Log", -4, -5, DEFAULT_OPSET, {}),
    "sqrt": ("Sqrt", -3, -4, DEFAULT_OPSET, {}),
    "softplus": ("Softplus", -5, -6, DEFAULT_OPSET, {}),
    "neg": ("Neg", -5, -5, DEFAULT_OPSET, {}),
    "erf": ("Erf", -5, -7, DEFAULT_OPSET, {}),
    "gelu": ("Gelu", -5, -5, 20, {}),
}

for _name, (_op, _ex, _ey, _opset, _attrs) in TABLE_OPS.items():
    FIXTURES[_name] = (lambda n, o, ex, ey, op_set, at: lambda: unary(o, n, ex, ey, op_set, **at))(
        _name, _op, _ex, _ey, _opset, _attrs
    )


# ---------------------------------------------------------------------------------------------
# The QOperator format: integer tensors flow between ops, and each op takes the scales and zero
# points of its inputs and output (ONNX QLinearConv and QLinearMatMul, ONNX Runtime's
# com.microsoft QGemm and QLinear* ops), or is ConvInteger/MatMulInteger followed by Cast and
# Mul by the scale product. onnx2esp rewrites them into QDQ at load; the recordings are ONNX
# Runtime's own QOperator kernels.

MS_DOMAIN = "com.microsoft"


class QOperatorGraph(Graph):
    """float input -> QuantizeLinear -> QOperator op(s) -> DequantizeLinear -> y."""

    def params(self, exponent):
        """A scale 2^exponent and an int8 zero point 0."""
        return [self.const(np.float32(2.0**exponent), "scale"), self.const(np.int8(0), "zero")]

    def quantized_input(self, shape, exponent):
        """The int8 tensor of a new graph input, with its scale and zero point."""
        name = f"x{len(self.inputs)}"
        self.inputs.append((name, list(shape), exponent))
        params = self.params(exponent)
        return [self.node("QuantizeLinear", [name, *params], "xq"), *params]

    def quantized_weight(self, values, exponent):
        return [self.const(np.asarray(values, dtype=np.int8), "w"), *self.params(exponent)]

    def qop(self, op, inputs, **attrs):
        """A QOperator node; the com.microsoft ones are named in MS_OPS."""
        out = self.fresh(op.lower())
        domain = MS_DOMAIN if op in MS_OPS else ""
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.fresh(op), domain=domain, **attrs))
        return out

    def finish_quantized(self, y, exponent, opset=DEFAULT_OPSET):
        """Dequantizes the int8 result `y` at 2^exponent into the graph output "y"."""
        self.node("DequantizeLinear", [y, *self.params(exponent)], out="y")
        opsets = [helper.make_opsetid("", opset), helper.make_opsetid(MS_DOMAIN, 1)]
        # ONNX shape inference does not know the com.microsoft ops: ONNX Runtime gives the
        # output's shape.
        unshaped = self.model_with(self.nodes, helper.make_tensor_value_info("y", TensorProto.FLOAT, None), opsets)
        feed = {n: np.zeros(shape, dtype=np.float32) for n, shape, _ in self.inputs}
        session = reference_session_from_bytes(unshaped.SerializeToString())
        (y_value,) = session.run(["y"], feed)
        model = self.model_with(self.nodes, helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y_value.shape)), opsets)
        onnx.checker.check_model(model)
        return model


MS_OPS = {
    "QGemm",
    "QLinearAdd",
    "QLinearMul",
    "QLinearGlobalAveragePool",
    "QLinearAveragePool",
    "QLinearSigmoid",
    "QLinearLeakyRelu",
    "QLinearConcat",
}


def reference_session_from_bytes(model_bytes):
    """The recorder's session settings for a model that is not written yet."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


def qlinear_unary(name, op, shape, ex, ey, **attrs):
    g = QOperatorGraph(name)
    x = g.quantized_input(shape, ex)
    return g.finish_quantized(g.qop(op, [*x, *g.params(ey)], **attrs), ey)


def qlinear_binary(name, op, shape_a, ea, shape_b, eb, ey):
    g = QOperatorGraph(name)
    a = g.quantized_input(shape_a, ea)
    b = g.quantized_input(shape_b, eb)
    return g.finish_quantized(g.qop(op, [*a, *b, *g.params(ey)]), ey)


QOPERATOR_UNARY = {
    # name: (op, input shape, input exponent, output exponent, attributes)
    "qlinear_global_average_pool": ("QLinearGlobalAveragePool", [1, 3, 4, 4], -5, -6, {}),
    # NHWC input [1, 4, 2, 3]: the output is [1, 1, 1, 3].
    "qlinear_global_average_pool_channels_last": ("QLinearGlobalAveragePool", [1, 4, 2, 3], -5, -7, {"channels_last": 1}),
    # ONNX Runtime multiplies the integer sum by the f32 x_scale / (y_scale * 9) = 1/18; an
    # odd multiple of 9 is an exact tie (about 1 in 18 sums), which must round half to even.
    "qlinear_global_average_pool_ties": ("QLinearGlobalAveragePool", [1, 8, 3, 3], -5, -4, {}),
    "qlinear_average_pool": ("QLinearAveragePool", [1, 2, 6, 6], -5, -6, {"kernel_shape": [2, 2], "strides": [2, 2]}),
    "qlinear_average_pool_exclude_pad": (
        "QLinearAveragePool",
        [1, 2, 7, 7],
        -5,
        -4,
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 0},
    ),
    "qlinear_sigmoid": ("QLinearSigmoid", [1, 4, 8, 8], -5, -7, {}),
    "qlinear_leaky_relu": ("QLinearLeakyRelu", [1, 4, 8, 8], -5, -6, {"alpha": 0.1}),
}

QOPERATOR_BINARY = {
    # name: (op, shape a, exponent a, shape b, exponent b, output exponent)
    "qlinear_matmul_two_inputs": ("QLinearMatMul", [2, 3, 4], -4, [2, 4, 5], -5, -3),
    "qlinear_add_broadcast": ("QLinearAdd", [1, 3, 4, 5], -5, [1, 3, 1, 1], -4, -4),
    "qlinear_mul": ("QLinearMul", [1, 2, 3, 5], -4, [1, 2, 3, 5], -5, -6),
}

for _name, (_op, _shape, _ex, _ey, _attrs) in QOPERATOR_UNARY.items():
    FIXTURES[_name] = (lambda n, o, sh, ex, ey, at: lambda: qlinear_unary(n, o, sh, ex, ey, **at))(
        _name, _op, _shape, _ex, _ey, _attrs
    )
for _name, _args in QOPERATOR_BINARY.items():
    FIXTURES[_name] = (lambda n, args: lambda: qlinear_binary(n, *args))(_name, _args)


@fixture
def qlinear_conv_bias_pads_stride():
    rng = rng_for("qlinear_conv_bias_pads_stride")
    g = QOperatorGraph("qlinear_conv_bias_pads_stride")
    x = g.quantized_input([1, 4, 9, 9], -5)
    w = g.quantized_weight(int8_weights(rng, [6, 4, 3, 3]), -7)
    # The int32 bias is at x_scale * w_scale = 2^-12.
    bias = g.const(rng.integers(-3000, 3000, size=[6]).astype(np.int32), "bias")
    y = g.qop("QLinearConv", [*x, *w, *g.params(-4), bias], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2])
    return g.finish_quantized(y, -4)


@fixture
def qlinear_conv_grouped_dilated():
    rng = rng_for("qlinear_conv_grouped_dilated")
    g = QOperatorGraph("qlinear_conv_grouped_dilated")
    x = g.quantized_input([1, 4, 7, 7], -5)
    w = g.quantized_weight(int8_weights(rng, [6, 2, 3, 3]), -6)
    y = g.qop("QLinearConv", [*x, *w, *g.params(-5)], group=2, dilations=[2, 1], pads=[2, 0, 1, 1])
    return g.finish_quantized(y, -5)


@fixture
def qlinear_matmul_weight():
    rng = rng_for("qlinear_matmul_weight")
    g = QOperatorGraph("qlinear_matmul_weight")
    a = g.quantized_input([2, 3, 5], -4)
    b = g.quantized_weight(int8_weights(rng, [5, 4]), -7)
    return g.finish_quantized(g.qop("QLinearMatMul", [*a, *b, *g.params(-4)]), -4)


@fixture
def qgemm_trans_b_alpha_bias():
    # y = alpha * (A B' + C): the int32 C is at a_scale * b_scale = 2^-11.
    rng = rng_for("qgemm_trans_b_alpha_bias")
    g = QOperatorGraph("qgemm_trans_b_alpha_bias")
    a = g.quantized_input([3, 6], -5)
    b = g.quantized_weight(int8_weights(rng, [4, 6]), -6)
    c = g.const(rng.integers(-3000, 3000, size=[4]).astype(np.int32), "c")
    y = g.qop("QGemm", [*a, *b, c, *g.params(-4)], transB=1, alpha=0.5)
    return g.finish_quantized(y, -4)


@fixture
def qgemm_trans_a():
    rng = rng_for("qgemm_trans_a")
    g = QOperatorGraph("qgemm_trans_a")
    a = g.quantized_input([6, 3], -5)  # transA: A is [K, M]
    b = g.quantized_weight(int8_weights(rng, [6, 4]), -7)
    y = g.qop("QGemm", [*a, *b, "", *g.params(-3)], transA=1, alpha=2.0)
    return g.finish_quantized(y, -3)


@fixture
def qlinear_add_constant():
    # A constant int8 operand of lower rank, broadcast along the last axis.
    g = QOperatorGraph("qlinear_add_constant")
    a = g.quantized_input([1, 3, 4, 5], -5)
    b = g.quantized_weight(np.array([100, -37, 5, 127, -128], dtype=np.int8), -6)
    return g.finish_quantized(g.qop("QLinearAdd", [*a, *b, *g.params(-5)]), -5)


@fixture
def qlinear_concat():
    g = QOperatorGraph("qlinear_concat")
    a = g.quantized_input([1, 2, 3, 4], -4)
    b = g.quantized_input([1, 3, 3, 4], -6)
    return g.finish_quantized(g.qop("QLinearConcat", [*g.params(-5), *a, *b], axis=1), -5)


@fixture
def qoperator_chain():
    # QOperator ops in a row, with MaxPool and Flatten on the int8 tensors between them, as
    # ONNX Runtime's quantizer leaves data-movement ops.
    rng = rng_for("qoperator_chain")
    g = QOperatorGraph("qoperator_chain")
    x = g.quantized_input([1, 2, 8, 8], -5)
    w = g.quantized_weight(int8_weights(rng, [4, 2, 3, 3]), -7)
    bias = g.const(rng.integers(-3000, 3000, size=[4]).astype(np.int32), "bias")
    conv = g.qop("QLinearConv", [*x, *w, *g.params(-4), bias], pads=[1, 1, 1, 1])
    pooled = g.node("MaxPool", [conv], kernel_shape=[2, 2], strides=[2, 2])
    flat = g.node("Flatten", [pooled])
    w2 = g.quantized_weight(int8_weights(rng, [5, 64]), -7)
    y = g.qop("QGemm", [flat, *g.params(-4), *w2, "", *g.params(-3)], transB=1)
    return g.finish_quantized(y, -3)


@fixture
def conv_integer():
    # ONNX Runtime's pattern with a static QuantizeLinear: ConvInteger -> Cast -> Mul by the
    # scale product, itself a Mul of the two scales.
    rng = rng_for("conv_integer")
    g = QOperatorGraph("conv_integer")
    x, x_scale, x_zero = g.quantized_input([1, 3, 6, 6], -5)
    w, w_scale, w_zero = g.quantized_weight(int8_weights(rng, [4, 3, 3, 3]), -7)
    acc = g.node("ConvInteger", [x, w, x_zero, w_zero], pads=[1, 1, 1, 1])
    product = g.node("Mul", [x_scale, w_scale], "scale_product")
    y = g.node("Mul", [g.node("Cast", [acc], to=TensorProto.FLOAT), product])
    return g.finish(y, -4)


@fixture
def matmul_integer():
    # As conv_integer, with the scale product a constant.
    rng = rng_for("matmul_integer")
    g = QOperatorGraph("matmul_integer")
    x, _, _ = g.quantized_input([2, 5], -4)
    w = g.const(int8_weights(rng, [5, 3]), "w")
    acc = g.node("MatMulInteger", [x, w])
    product = g.const(np.float32(2.0**-10), "scale_product")
    y = g.node("Mul", [g.node("Cast", [acc], to=TensorProto.FLOAT), product])
    return g.finish(y, -3)


# ---------------------------------------------------------------------------------------------


# int16 (opset 21): int16 I/O, and requantization between int8 and int16 ----------------------

INT16_OPSET = 21


@fixture
def int16_requantize_chain():
    """int16 in, Relu, requantized int16 -> int8 -> int16 out (left and right shifts, a clamp)."""
    g = Graph("int16_requantize_chain")
    x = g.input([1, 4, 6, 6], -10, dtype=np.int16)
    r = g.node("Relu", [x])
    a = g.qdq(r, -9, dtype=np.int16)
    b = g.qdq(a, -4)
    return g.finish(b, -7, opset=INT16_OPSET, dtype=np.int16)


@fixture
def int16_reshape_clip():
    """int16 through Reshape (an alias) and Clip, out as int8."""
    g = Graph("int16_reshape_clip")
    x = g.input([1, 2, 8, 8], -8, dtype=np.int16)
    shape = g.const(np.array([1, 128], dtype=np.int64), "shape")
    flat = g.node("Reshape", [x, shape])
    lo = g.const(np.float32(-20.0), "lo")
    hi = g.const(np.float32(60.0), "hi")
    c = g.node("Clip", [flat, lo, hi])
    return g.finish(c, -1, opset=INT16_OPSET)


@fixture
def int16_conv_relu():
    """int16 in and out through Conv (int8 weights, int32 bias) and a fused Relu."""
    rng = rng_for("int16_conv_relu")
    g = Graph("int16_conv_relu")
    x = g.input([1, 3, 7, 7], -12, dtype=np.int16)
    w = g.weight(int8_weights(rng, [4, 3, 3, 3]), -7)
    bias = g.weight(rng.integers(-200000, 200000, size=[4]), -19, np.int32)
    y = g.node("Conv", [x, w, bias], pads=[1, 1, 1, 1], strides=[2, 1])
    return g.finish(g.node("Relu", [y]), -10, opset=INT16_OPSET, dtype=np.int16)


@fixture
def int8_conv_to_int16():
    """The int8 -> int16 boundary: an int8 Conv whose output is quantized to int16."""
    rng = rng_for("int8_conv_to_int16")
    g = Graph("int8_conv_to_int16")
    x = g.input([1, 2, 6, 6], -5)
    w = g.weight(int8_weights(rng, [3, 2, 3, 3]), -6)
    return g.finish(g.node("Conv", [x, w]), -9, opset=INT16_OPSET, dtype=np.int16)


@fixture
def int16_conv_small_map():
    """A 3x3 convolution over 32 int16 channels onto a 4x4 map, which every profile writes
    out pixel by pixel. The weights are small so that ONNX Runtime's f32 sums stay exact
    integers (below 2^24 units): a larger sum would be rounded by ORT, not by onnx2esp."""
    rng = rng_for("int16_conv_small_map")
    g = Graph("int16_conv_small_map")
    x = g.input([1, 32, 4, 4], -10, dtype=np.int16)
    w = g.weight(rng.integers(-7, 8, size=[8, 32, 3, 3]).astype(np.int8), -6)
    y = g.node("Conv", [x, w], pads=[1, 1, 1, 1])
    return g.finish(g.node("Relu", [y]), -8, opset=INT16_OPSET, dtype=np.int16)


@fixture
def int16_gemm_to_int8():
    """The int16 -> int8 boundary: Gemm on an int16 activation, quantized to int8."""
    rng = rng_for("int16_gemm_to_int8")
    g = Graph("int16_gemm_to_int8")
    x = g.input([2, 16], -10, dtype=np.int16)
    w = g.weight(int8_weights(rng, [8, 16]), -6)
    y = g.node("Gemm", [x, w], transB=1)
    return g.finish(y, -5, opset=INT16_OPSET)


@fixture
def int16_matmul_i64():
    """int16 x int8 over 700 taps: the worst case exceeds i32, so the layer accumulates in i64."""
    rng = rng_for("int16_matmul_i64")
    g = Graph("int16_matmul_i64")
    x = g.input([1, 700], -10, dtype=np.int16)
    w = g.weight(rng.integers(100, 128, size=[700, 3]).astype(np.int8) * np.int8(1), -7)
    return g.finish(g.node("MatMul", [x, w]), -2, opset=INT16_OPSET, dtype=np.int16)


@fixture
def in_place_chain():
    """Pointwise layers between two others, so that each one's input dies there and the memory
    plan runs it in place: a LeakyRelu table, a standalone Clip, requantizations (int8 and
    int16), Add of a per-channel int32 constant, Sub from a scalar constant, a Neg table."""
    rng = rng_for("in_place_chain")
    g = Graph("in_place_chain")
    x = g.input([1, 3, 4, 5], -5)
    c = g.weight(np.array([100, -37, 5], dtype=np.int8).reshape(3, 1, 1), -6)
    t = g.qdq(g.node("Mul", [x, c]), -5)
    t = g.qdq(g.node("LeakyRelu", [t], alpha=0.1), -5)
    lo = g.const(np.float32(-1.0), "lo")
    hi = g.const(np.float32(0.32), "hi")
    t = g.qdq(g.node("Clip", [t, lo, hi]), -3)
    t = g.qdq(t, -4)
    t = g.qdq(t, -9, dtype=np.int16)
    t = g.qdq(t, -7, dtype=np.int16)
    t = g.qdq(t, -4)
    bias = g.weight(rng.integers(-5000, 5000, size=[3, 1, 1]), -9, np.int32)
    t = g.qdq(g.node("Add", [t, bias]), -4)
    scalar = g.weight(np.int8(3), -3)
    t = g.qdq(g.node("Sub", [scalar, t]), -4)
    t = g.qdq(g.node("Neg", [t]), -4)
    return g.finish(g.node("Relu", [t]), -3, opset=INT16_OPSET)


# ---------------------------------------------------------------------------------------------
# Kernel benchmarks: 3x3 convolutions on the small maps of a small CNN's late layers (mostly
# border), and the same channels on a map without padding (every column interior), which the
# MCU runners measure. They are whole-model fixtures: written to codegen-tests/models/ (the
# runners' directory), with few samples since each costs the runners up to a few million
# instructions.

MODEL_DIR = os.path.join(ROOT, "codegen-tests", "models")
KERNEL_BENCHMARK_SAMPLES = 4
KERNEL_BENCHMARKS = set()


def kernel_benchmark(fn):
    KERNEL_BENCHMARKS.add(fn.__name__)
    return fixture(fn)


def conv3x3_relu(name, channels, size, stride, pad):
    rng = rng_for(name)
    g = Graph(name)
    x = g.input([1, channels, size, size], -5)
    w = g.weight(int8_weights(rng, [channels, channels, 3, 3]), -9)
    bias = g.weight(rng.integers(-20000, 20000, size=[channels]), -14, np.int32)
    y = g.node("Conv", [x, w, bias], strides=[stride, stride], pads=[pad] * 4)
    return g.finish(g.node("Relu", [y]), -4)


@kernel_benchmark
def smallmap_conv3x3_s2_8x8():
    """Stride 2 from 8x8 to 4x4, 32 channels: a small CNN's downsampling layer."""
    return conv3x3_relu("smallmap_conv3x3_s2_8x8", 32, 8, 2, 1)


@kernel_benchmark
def smallmap_conv3x3_4x4():
    """Padding 1 on a 4x4 map, 32 channels: 12 of its 16 outputs read the padding."""
    return conv3x3_relu("smallmap_conv3x3_4x4", 32, 4, 1, 1)


@kernel_benchmark
def smallmap_conv3x3_2x2():
    """Padding 1 on a 2x2 map, 64 channels: every output reads the padding."""
    return conv3x3_relu("smallmap_conv3x3_2x2", 64, 2, 1, 1)


@kernel_benchmark
def smallmap_interior_32():
    """The interior reference for 32 channels: 12x12 to 10x10, no padding."""
    return conv3x3_relu("smallmap_interior_32", 32, 12, 1, 0)


@kernel_benchmark
def smallmap_interior_64():
    """The interior reference for 64 channels: 8x8 to 6x6, no padding."""
    return conv3x3_relu("smallmap_interior_64", 64, 8, 1, 0)


def record(name, model):
    samples = TABLE_SAMPLES if name in TABLE_OPS or name.startswith(("leaky_relu", "prelu", "swish", "pow")) else SAMPLES
    out_dir = OUT_DIR
    if name in KERNEL_BENCHMARKS:
        samples, out_dir = KERNEL_BENCHMARK_SAMPLES, MODEL_DIR
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name + ".onnx")
    onnx.save(model, path)
    sess = reference_session(path)
    rng = rng_for(name + "/inputs")
    inputs_per_tensor = []
    single = len(model.graph.input) == 1
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        # The input exponent is the scale of the QuantizeLinear that reads this input.
        q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == vi.name)
        scale = next(i for i in model.graph.initializer if i.name == q.input[1])
        zero = next(i for i in model.graph.initializer if i.name == q.input[2])
        exponent = int(np.log2(numpy_helper.to_array(scale)))
        bits = numpy_helper.to_array(zero).dtype.itemsize * 8
        inputs_per_tensor.append(sample_inputs(rng, shape, exponent, single, samples, bits))
    inputs, outputs, output_shape = [], [], None
    for s in range(samples):
        feed = {vi.name: xs[s] for vi, xs in zip(model.graph.input, inputs_per_tensor)}
        (y,) = sess.run(["y"], feed)
        output_shape = list(y.shape)
        # Several inputs are recorded one after another, in graph input order.
        inputs.append([v for xs in inputs_per_tensor for v in f32_list(xs[s])])
        outputs.append(f32_list(y))
    write_recording(
        os.path.join(out_dir, name + ".expected.json"),
        model_path=path,
        input_name=model.graph.input[0].name,
        output_name="y",
        input_shape=list(inputs_per_tensor[0][0].shape),
        output_shape=output_shape,
        inputs=inputs,
        outputs=outputs,
        labels=None,
        reference_accuracy=None,
        framework_accuracy=None,
        extra={"input_shapes": [list(xs[0].shape) for xs in inputs_per_tensor]},
    )
    print(f"{name}: {len(model.graph.node)} nodes, output shape {output_shape}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="fixture names (default: all)")
    args = ap.parse_args()
    names = args.only or sorted(FIXTURES)
    for name in names:
        record(name, FIXTURES[name]())


if __name__ == "__main__":
    main()
