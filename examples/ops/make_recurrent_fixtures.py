"""LSTM and GRU fixtures for codegen-tests, with their ONNX Runtime recordings.

Each is a small QDQ graph built with onnx.helper, the recurrent op between a quantized input
and a quantized output (Y, Y_h or Y_c, one per fixture), its W and R as DequantizeLinear of
int8 initializers (per tensor, or per gate row along axis 1), its bias float or an int32
DequantizeLinear, power-of-two scales and zero point 0. ONNX Runtime runs the LSTM or GRU
itself in float, so these are held to a bound rather than to exactness
(codegen-tests/tests/recurrent.rs, docs/numerics.md). Inputs and recording as for the single-op
fixtures (examples/ops/make_op_fixtures.py, whose graph builder and recorder this reuses).

Usage (from the repository root):
    /path/to/venv/bin/python examples/ops/make_recurrent_fixtures.py [--only NAME ...]
Writes codegen-tests/models/recurrent/NAME.onnx and NAME.expected.json.
"""

import argparse
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_op_fixtures as ops  # noqa: E402
from make_op_fixtures import Graph, int8_weights, rng_for  # noqa: E402

OUT_DIR = os.path.join(ops.ROOT, "codegen-tests", "models", "recurrent")
INT16_OPSET = 21
FIXTURES = {}


def fixture(fn):
    FIXTURES[fn.__name__] = fn
    return fn


def row_weight(g, values, exponents):
    """DequantizeLinear of int8 `values` [D, rows, n] with one exponent per row (axis 1)."""
    w = g.const(np.asarray(values, dtype=np.int8), "w")
    scale = g.const(np.asarray([2.0**e for e in exponents], dtype=np.float32), "w_scale")
    zero = g.const(np.zeros(len(exponents), dtype=np.int8), "w_zero")
    return g.node("DequantizeLinear", [w, scale, zero], "w_dq", axis=1)


def recurrent(name, op, *, steps, batch, inputs, hidden, direction="forward", layout=0,
              output=0, x_exponent=-5, w_exponent=-9, y_exponent=-7, per_row=False,
              int32_bias=False, initial=False, clip=None, int16=False, reference=False, **attrs):
    """A fixture of one LSTM or GRU: `output` 0 (Y), 1 (Y_h) or 2 (Y_c) is the graph output.

    ONNX Runtime runs only layout 0: with `reference`, a layout-1 fixture is built as the
    equivalent layout-0 graph between Transposes (the same weights), which records it."""
    rng = rng_for(name)
    g = Graph(name)
    d = 2 if direction == "bidirectional" else 1
    gates = 4 if op == "LSTM" else 3
    x_shape = [steps, batch, inputs] if layout == 0 else [batch, steps, inputs]
    dtype = np.int16 if int16 else np.int8
    x = g.input(x_shape, x_exponent, dtype=dtype)
    transposed = reference and layout == 1
    if transposed:
        x = g.node("Transpose", [x], perm=[1, 0, 2])
    w_values = int8_weights(rng, [d, gates * hidden, inputs])
    r_values = int8_weights(rng, [d, gates * hidden, hidden])
    if per_row:
        w = row_weight(g, w_values, [w_exponent - (k % 3) for k in range(gates * hidden)])
        r = row_weight(g, r_values, [w_exponent + 1 - (k % 2) for k in range(gates * hidden)])
    else:
        w = g.weight(w_values, w_exponent)
        r = g.weight(r_values, w_exponent)
    bias = rng.uniform(-0.5, 0.5, size=[d, 2 * gates * hidden]).astype(np.float32)
    if int32_bias:
        b = g.weight(np.round(bias * 2.0**12).astype(np.int32), -12, np.int32)
    else:
        b = g.const(bias, "b")
    node_inputs = [x, w, r, b]
    if initial:
        node_inputs.append("")  # sequence_lens
        h0 = rng.uniform(-0.8, 0.8, size=[d, batch, hidden]).astype(np.float32)
        node_inputs.append(g.const(h0, "initial_h"))
        if op == "LSTM":
            node_inputs.append(g.const(rng.uniform(-2, 2, size=[d, batch, hidden]).astype(np.float32), "initial_c"))
    if clip is not None:
        attrs["clip"] = clip
    if layout != 0 and not transposed:
        attrs["layout"] = layout  # opset 14
    outputs = g.node_outputs(op, node_inputs, 3 if op == "LSTM" else 2, hidden_size=hidden,
                             direction=direction, **attrs)
    y = outputs[output]
    if transposed:
        y = g.node("Transpose", [y], perm=[2, 0, 1, 3] if output == 0 else [1, 0, 2])
    opset = INT16_OPSET if int16 else ops.DEFAULT_OPSET
    if layout != 0:
        opset = max(opset, 14)
    model = g.finish(y, y_exponent, opset=opset, dtype=dtype if output == 0 else np.int8)
    model.producer_name = "onnx2esp examples/ops/make_recurrent_fixtures.py"
    return model


@fixture
def lstm_forward():
    """LSTM, forward, per-tensor weights, float bias: Y."""
    return recurrent("lstm_forward", "LSTM", steps=7, batch=1, inputs=5, hidden=6)


@fixture
def lstm_bidirectional_y_h():
    """Bidirectional LSTM over a batch of 2 with initial_h and initial_c: Y_h."""
    return recurrent("lstm_bidirectional_y_h", "LSTM", steps=5, batch=2, inputs=4, hidden=5,
                     direction="bidirectional", output=1, initial=True)


@fixture
def lstm_reverse_row_weights_y_c():
    """Reverse LSTM, W and R per gate row, int32 bias, cell clip: Y_c (cell values beyond 1)."""
    return recurrent("lstm_reverse_row_weights_y_c", "LSTM", steps=6, batch=1, inputs=3,
                     hidden=4, direction="reverse", output=2, per_row=True, int32_bias=True,
                     clip=2.5, y_exponent=-5)


@fixture
def lstm_layout1(reference=False):
    """Bidirectional LSTM with layout 1 (batch first): Y of shape [batch, steps, 2, hidden]."""
    return recurrent("lstm_layout1", "LSTM", steps=4, batch=2, inputs=3, hidden=4, layout=1,
                     direction="bidirectional", reference=reference)


@fixture
def gru_layout1_y_h(reference=False):
    """GRU with layout 1, reverse, initial_h: Y_h of shape [batch, 1, hidden]."""
    return recurrent("gru_layout1_y_h", "GRU", steps=5, batch=3, inputs=2, hidden=4, layout=1,
                     direction="reverse", output=1, initial=True, linear_before_reset=1,
                     reference=reference)


@fixture
def gru_forward():
    """GRU, linear_before_reset 1 (as PyTorch exports it), forward: Y."""
    return recurrent("gru_forward", "GRU", steps=8, batch=1, inputs=5, hidden=6,
                     linear_before_reset=1)


@fixture
def gru_bidirectional_y_h():
    """GRU, linear_before_reset 0, bidirectional over a batch of 2 with initial_h: Y_h."""
    return recurrent("gru_bidirectional_y_h", "GRU", steps=5, batch=2, inputs=4, hidden=5,
                     direction="bidirectional", output=1, initial=True)


@fixture
def gru_reverse_int16():
    """Reverse GRU on an int16 input with an int16 Y, per-row weights, linear_before_reset 1."""
    return recurrent("gru_reverse_int16", "GRU", steps=6, batch=1, inputs=4, hidden=5,
                     direction="reverse", per_row=True, int16=True, x_exponent=-12,
                     y_exponent=-14, linear_before_reset=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="fixture names (default: all)")
    args = ap.parse_args()
    # The single-op recorder, writing here.
    ops.OUT_DIR = OUT_DIR
    for name in args.only or sorted(FIXTURES):
        make = FIXTURES[name]
        if "layout1" in name:
            # Recorded through the equivalent layout-0 graph, then the fixture itself saved.
            ops.record(name, make(reference=True))
            onnx.save(make(), os.path.join(OUT_DIR, name + ".onnx"))
        else:
            ops.record(name, make())


if __name__ == "__main__":
    main()
