"""Worked example of a custom layer: LearnableSwish (domain onnx2esp.examples).

    Y = X * sigmoid(beta[c] * X)        beta: one learnable float per channel

Model (PyTorch eager mode, power-of-two QAT):
    QuantStub -> Conv2d(1, 8, 3, padding=1) (QAT) -> LearnableSwish
    -> FakeQuantize (power-of-two observer; gives the custom layer's output
       exponent) -> MaxPool2d(2) -> Flatten -> Linear(128, 10) -> DeQuantStub

LearnableSwish is a torch.autograd.Function whose symbolic() emits the node
onnx2esp.examples::LearnableSwish(X, beta), so the exported fake-quant model is
    Q DQ Conv Q DQ LearnableSwish Q DQ MaxPool Flatten Gemm Q DQ
with beta a float initializer of shape [C].

Outputs (all in examples/custom-layer/models/):
    digits_swish.onnx            the whole QAT model (fake-quant, opset 13, batch 1)
    digits_swish.expected.json   PyTorch fake-quant logits on the digits test split
                                 (ONNX Runtime cannot run the custom op)
    swish_layer.onnx             the custom layer alone between Q/DQ pairs, with the
                                 trained beta and exponents (built with onnx.helper)
    swish_layer.expected.json    the activations entering the custom layer for the
                                 first 100 test samples and the outputs of the integer
                                 reference of examples/custom-layer/SEMANTICS.md

Run from the repository root:
    python examples/custom-layer/train_custom_layer.py
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.ao import quantization as tq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ next to the imported ../pytorch modules
sys.path.insert(0, os.path.join(HERE, "..", "pytorch"))
from digits_data import load_split, seed_everything  # noqa: E402
from pow2_observer import QUANT_MAX, QUANT_MIN, pow2_fake_quant, pow2_qconfig  # noqa: E402
from record_outputs import f32_list  # noqa: E402
from train_digits_qat import accuracy, check_pow2_qdq, is_pow2, train  # noqa: E402

SEED = 0
DOMAIN = "onnx2esp.examples"
OP_TYPE = "LearnableSwish"
CHANNELS = 8
LAYER_SAMPLES = 100


# ----------------------------------------------------------------------------
# The custom layer
# ----------------------------------------------------------------------------


class LearnableSwishFn(torch.autograd.Function):
    """y = x * sigmoid(beta[c] * x) for NCHW x and beta of shape [C]."""

    @staticmethod
    def forward(ctx, x, beta):
        b = beta.view(1, -1, 1, 1)
        s = torch.sigmoid(b * x)
        ctx.save_for_backward(x, beta, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_y):
        x, beta, s = ctx.saved_tensors
        b = beta.view(1, -1, 1, 1)
        ds = s * (1.0 - s)  # d sigmoid(z) / dz
        grad_x = grad_y * (s + x * ds * b)
        grad_beta = (grad_y * x * x * ds).sum(dim=(0, 2, 3))
        return grad_x, grad_beta

    @staticmethod
    def symbolic(g, x, beta):
        y = g.op(f"{DOMAIN}::{OP_TYPE}", x, beta)
        y.setType(x.type())
        return y


class LearnableSwish(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.beta = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        return LearnableSwishFn.apply(x, self.beta)


class DigitsSwishNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(1, CHANNELS, 3, padding=1)
        self.swish = LearnableSwish(CHANNELS)
        # Explicit fake quantization of the custom layer's output: eager-mode
        # prepare_qat only observes the outputs of modules it knows. In the ONNX
        # export this becomes the QuantizeLinear/DequantizeLinear pair after the
        # custom node, which fixes its output exponent.
        self.swish_fq = pow2_fake_quant()()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(CHANNELS * 4 * 4, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.conv(x)
        x = self.swish(x)
        x = self.swish_fq(x)
        x = self.pool(x)
        x = self.flatten(x)
        x = self.fc(x)
        return self.dequant(x)


def exponent_of(fake_quant):
    s = float(fake_quant.scale.reshape(-1)[0])
    assert is_pow2(s), f"scale {s!r} is not a power of two"
    assert int(fake_quant.zero_point.reshape(-1)[0]) == 0
    return int(round(math.log2(s)))


# ----------------------------------------------------------------------------
# The integer reference (examples/custom-layer/SEMANTICS.md)
# ----------------------------------------------------------------------------


def swish_tables(beta, ex, ey):
    """int8 tables T[c, q + 128] of shape [C, 256] (see SEMANTICS.md)."""
    q = np.arange(QUANT_MIN, QUANT_MAX + 1, dtype=np.float64)
    x = np.ldexp(q, ex)[None, :]  # q * 2^ex, exact
    b = np.asarray(beta, dtype=np.float32).astype(np.float64)[:, None]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        f = x / (1.0 + np.exp(-(b * x)))
        v = np.rint(np.ldexp(f, -ey))  # round half to even
    v = np.where(np.isnan(v), 0.0, v)
    return np.clip(v, QUANT_MIN, QUANT_MAX).astype(np.int8)


def swish_reference(x_q, tables):
    """y_q[n, c, h, w] = T[c, x_q[n, c, h, w] + 128] for int NCHW x_q."""
    x_q = np.asarray(x_q, dtype=np.int64)
    c = np.arange(x_q.shape[1]).reshape(1, -1, 1, 1)
    return tables[c, x_q + 128]


def to_int(values, exponent):
    """Exact integers of values that are multiples of 2^exponent within int8."""
    q = np.ldexp(np.asarray(values, dtype=np.float64), -exponent)
    assert np.all(q == np.rint(q)), "values are not multiples of 2^exponent"
    assert q.min() >= QUANT_MIN and q.max() <= QUANT_MAX
    return q.astype(np.int64)


# ----------------------------------------------------------------------------
# ONNX checks and the single-layer model
# ----------------------------------------------------------------------------


def constants_of(graph):
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    consts[node.output[0]] = numpy_helper.to_array(a.t)
    changed = True
    while changed:
        changed = False
        for node in graph.node:
            if node.op_type == "Identity" and node.input[0] in consts and node.output[0] not in consts:
                consts[node.output[0]] = consts[node.input[0]]
                changed = True
    return consts


def activation_path(graph):
    """The nodes along the data path from the (single) graph input to the output.

    Each step takes the node that reads the current tensor as its first input;
    Identity nodes on the path are skipped over.
    """
    (inp,) = graph.input
    by_first_input = {}
    for node in graph.node:
        if node.input:
            by_first_input.setdefault(node.input[0], []).append(node)
    outputs = {o.name for o in graph.output}
    path, cur = [], inp.name
    while cur not in outputs:
        readers = by_first_input.get(cur, [])
        assert len(readers) == 1, f"tensor {cur} is the data input of {len(readers)} nodes"
        (node,) = readers
        if node.op_type != "Identity":
            path.append(node)
        cur = node.output[0]
    return path


def check_qdq(graph, node, consts):
    scale = consts[node.input[1]]
    zp = consts[node.input[2]]
    assert np.asarray(scale).size == 1 and is_pow2(float(np.asarray(scale).reshape(-1)[0])), node.name
    assert zp.dtype == np.int8 and np.all(zp == 0), f"{node.name}: zero point {zp!r}"
    return int(round(math.log2(float(np.asarray(scale).reshape(-1)[0]))))


def check_custom_node(node, consts, channels):
    assert node.op_type == OP_TYPE and node.domain == DOMAIN, node
    assert len(node.input) == 2 and len(node.output) == 1
    beta = consts.get(node.input[1])
    assert beta is not None, f"beta input {node.input[1]} is not a constant"
    assert beta.dtype == np.float32 and beta.shape == (channels,), (beta.dtype, beta.shape)
    return beta


def check_digits_model(path, channels):
    """Assert the exported graph's structure; return (ex, ey, beta) read from the file."""
    model = onnx.load(path)
    onnx.checker.check_model(model)
    g = model.graph
    opsets = {o.domain: o.version for o in model.opset_import}
    assert opsets.get("") == 13 and opsets.get(DOMAIN) == 1, opsets
    ops = [n.op_type for n in activation_path(g)]
    want = ["QuantizeLinear", "DequantizeLinear", "Conv", "QuantizeLinear", "DequantizeLinear", OP_TYPE,
            "QuantizeLinear", "DequantizeLinear", "MaxPool", "Flatten", "Gemm", "QuantizeLinear", "DequantizeLinear"]
    assert ops == want, f"unexpected data path {ops}"
    consts = constants_of(g)
    producers = {o: n for n in g.node for o in n.output}
    nodes = activation_path(g)
    for node in g.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            check_qdq(g, node, consts)
        if node.op_type in ("Conv", "Gemm"):
            dq = producers[node.input[1]]
            assert dq.op_type == "DequantizeLinear", f"{node.name}: weight is not dequantized"
            qn = producers[dq.input[0]]
            assert qn.op_type == "QuantizeLinear" and qn.input[0] in consts, f"{node.name}: weight is not Q/DQ'd"
    custom = nodes[5]
    beta = check_custom_node(custom, consts, channels)
    ex = check_qdq(g, nodes[4], consts)
    ey = check_qdq(g, nodes[6], consts)
    assert nodes[4].input[1] == nodes[3].input[1] and nodes[7].input[1] == nodes[6].input[1]
    check_pow2_qdq(path)
    return ex, ey, beta


def build_layer_model(path, beta, ex, ey, channels):
    shape = [1, channels, 8, 8]
    inits = [
        numpy_helper.from_array(np.array(2.0**ex, dtype=np.float32), "x_scale"),
        numpy_helper.from_array(np.array(2.0**ey, dtype=np.float32), "y_scale"),
        numpy_helper.from_array(np.array(0, dtype=np.int8), "zero_point"),
        numpy_helper.from_array(np.asarray(beta, dtype=np.float32), "beta"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "zero_point"], ["x_q"], name="quantize_x"),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale", "zero_point"], ["x_dq"], name="dequantize_x"),
        helper.make_node(OP_TYPE, ["x_dq", "beta"], ["swish"], name="swish", domain=DOMAIN),
        helper.make_node("QuantizeLinear", ["swish", "y_scale", "zero_point"], ["y_q"], name="quantize_y"),
        helper.make_node("DequantizeLinear", ["y_q", "y_scale", "zero_point"], ["y"], name="dequantize_y"),
    ]
    graph = helper.make_graph(
        nodes,
        "swish_layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        initializer=inits,
        value_info=[
            helper.make_tensor_value_info("x_q", TensorProto.INT8, shape),
            helper.make_tensor_value_info("x_dq", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("swish", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("y_q", TensorProto.INT8, shape),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)],
        producer_name="onnx2esp examples/custom-layer/train_custom_layer.py",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    g = onnx.load(path).graph
    p = activation_path(g)
    assert [n.op_type for n in p] == ["QuantizeLinear", "DequantizeLinear", OP_TYPE, "QuantizeLinear", "DequantizeLinear"]
    consts = constants_of(g)
    assert check_qdq(g, p[0], consts) == ex and check_qdq(g, p[3], consts) == ey
    check_custom_node(p[2], consts, channels)


def print_nodes(path):
    model = onnx.load(path)
    print(f"{path}: opsets {[(o.domain or 'ai.onnx', o.version) for o in model.opset_import]}")
    for n in model.graph.node:
        print(f"  {n.op_type:16s} {n.domain or '-':18s} {list(n.input)} -> {list(n.output)}")


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}")


# ----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default="examples/custom-layer/models")
    ap.add_argument("--float-epochs", type=int, default=15)
    ap.add_argument("--qat-epochs", type=int, default=5)
    args = ap.parse_args()

    seed_everything(SEED)

    x_train, y_train, x_test, y_test = load_split()
    os.makedirs(args.out_dir, exist_ok=True)
    model_path = os.path.join(args.out_dir, "digits_swish.onnx")
    layer_path = os.path.join(args.out_dir, "swish_layer.onnx")

    model = DigitsSwishNet()
    # Float phase: the explicit FakeQuantize neither observes nor quantizes.
    model.swish_fq.disable_observer()
    model.swish_fq.disable_fake_quant()
    print("float training")
    train(model, x_train, y_train, epochs=args.float_epochs, lr=1e-2)
    float_acc = accuracy(model, x_test, y_test)
    print(f"PyTorch float accuracy (test): {float_acc:.4f}")

    model.train()
    model.qconfig = pow2_qconfig()
    # prepare_qat only instruments modules it knows; keep it away from ours explicitly.
    model.swish.qconfig = None
    model.swish_fq.qconfig = None
    tq.prepare_qat(model, inplace=True)
    model.swish_fq.enable_observer()
    model.swish_fq.enable_fake_quant()
    print("QAT fine-tuning")
    train(model, x_train, y_train, epochs=args.qat_epochs, lr=1e-3, seed=SEED + 1)
    model.apply(tq.disable_observer)
    model.eval()

    ex = exponent_of(model.conv.activation_post_process)
    ey = exponent_of(model.swish_fq)
    beta = model.swish.beta.detach().numpy().astype(np.float32).copy()
    print(f"custom layer exponents: input ex = {ex}, output ey = {ey}")
    print(f"beta = {[float(v) for v in beta]}")

    # --- 1. whole model ------------------------------------------------------
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 8, 8),),
        model_path,
        dynamo=False,
        opset_version=13,
        custom_opsets={DOMAIN: 1},
        input_names=["input"],
        output_names=["logits"],
    )
    print(f"wrote {model_path}")
    onnx_ex, onnx_ey, onnx_beta = check_digits_model(model_path, CHANNELS)
    assert (onnx_ex, onnx_ey) == (ex, ey), ((onnx_ex, onnx_ey), (ex, ey))
    assert np.array_equal(onnx_beta, beta)
    print("checked data path Q DQ Conv Q DQ LearnableSwish Q DQ MaxPool Flatten Gemm Q DQ, weight Q/DQ, "
          "power-of-two scales, int8 zero points 0, float beta[C] input")

    # --- run the fake-quant model on the test split, batch 1 ------------------
    captured = {}
    hooks = [
        model.swish.register_forward_hook(lambda m, i, o: captured.update(swish_in=i[0], swish_out=o)),
        model.swish_fq.register_forward_hook(lambda m, i, o: captured.update(fq_out=o)),
    ]
    logits, layer_in, layer_fq = [], [], []
    with torch.no_grad():
        for i in range(len(x_test)):
            y = model(torch.from_numpy(x_test[i : i + 1]))
            logits.append(y.numpy().astype(np.float32))
            if i < LAYER_SAMPLES:
                layer_in.append(captured["swish_in"].numpy().astype(np.float32).copy())
                layer_fq.append(captured["fq_out"].numpy().astype(np.float32).copy())
    for h in hooks:
        h.remove()
    pred = np.array([int(np.argmax(v.reshape(-1))) for v in logits])
    qat_acc = float((pred == y_test).mean())
    print(f"PyTorch fake-quant accuracy (test, batch 1): {qat_acc:.4f}")

    # --- 2. single-layer model -------------------------------------------------
    build_layer_model(layer_path, beta, ex, ey, CHANNELS)
    print(f"wrote {layer_path}")

    # --- 3. integer reference and cross-check ----------------------------------
    tables = swish_tables(beta, ex, ey)
    x_q = to_int(np.concatenate(layer_in), ex)
    y_q = swish_reference(x_q, tables)
    torch_q = to_int(np.concatenate(layer_fq), ey)
    diff = torch_q != y_q
    print(
        f"cross-check PyTorch fake-quant (f32) vs integer reference (f64 tables): "
        f"{int(diff.sum())} of {diff.size} elements differ ({diff.mean():.6f}), "
        f"max |diff| {int(np.abs(torch_q - y_q).max())} LSB"
    )
    print(f"input integers span [{x_q.min()}, {x_q.max()}], output integers span [{y_q.min()}, {y_q.max()}]")
    # How close any table entry comes to a rounding tie (k + 0.5): an f64 exp()
    # from another libm (a few ulp off) could only change entries this close.
    q = np.arange(QUANT_MIN, QUANT_MAX + 1, dtype=np.float64)[None, :]
    b = beta.astype(np.float64)[:, None]
    scaled = np.ldexp(np.ldexp(q, ex) / (1.0 + np.exp(-(b * np.ldexp(q, ex)))), -ey)
    inside = np.abs(scaled) < QUANT_MAX
    margin = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5)[inside].min()
    print(f"closest unsaturated table entry to a rounding tie: {margin:.3e} LSB")

    layer_shape = [1, CHANNELS, 8, 8]
    write_json(
        os.path.splitext(layer_path)[0] + ".expected.json",
        {
            "model": os.path.basename(layer_path),
            "reference": "Python integer reference of examples/custom-layer/SEMANTICS.md "
            "(numpy float64 tables, round half to even, saturate to int8); "
            "ONNX Runtime cannot run the custom op",
            "input_name": "x",
            "output_name": "y",
            "input_shape": layer_shape,
            "output_shape": layer_shape,
            "labels": [int(v) for v in y_test[:LAYER_SAMPLES]],
            "reference_accuracy": None,
            "framework_accuracy": None,
            "inputs": [f32_list(np.ldexp(q.astype(np.float64), ex)) for q in x_q],
            "outputs": [f32_list(np.ldexp(q.astype(np.float64), ey)) for q in y_q.astype(np.int64)],
        },
    )

    # --- 4. whole-model reference -------------------------------------------
    write_json(
        os.path.splitext(model_path)[0] + ".expected.json",
        {
            "model": os.path.basename(model_path),
            "reference": f"PyTorch {torch.__version__} fake-quant forward",
            "input_name": "input",
            "output_name": "logits",
            "input_shape": [1, 1, 8, 8],
            "output_shape": list(logits[0].shape),
            "labels": [int(v) for v in y_test],
            "reference_accuracy": qat_acc,
            "framework_accuracy": float_acc,
            "inputs": [f32_list(x_test[i]) for i in range(len(x_test))],
            "outputs": [f32_list(v) for v in logits],
        },
    )

    print_nodes(model_path)
    print_nodes(layer_path)


if __name__ == "__main__":
    main()
