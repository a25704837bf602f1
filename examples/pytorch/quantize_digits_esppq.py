"""Train a small float CNN on sklearn digits and quantize it with ESP-PPQ.

Model (float, PyTorch):
    Conv2d(1, 8, 3, pad=1) + ReLU
    -> Conv2d(8, 32, 3, pad=1, stride=2) + ReLU          (x: 32 x 4 x 4)
    -> x + ReLU(depthwise Conv2d(32, 32, 3, pad=1, groups=32)(x))
    -> AdaptiveAvgPool2d(1) -> Flatten -> Linear(32, 10)

(With 16 instead of 32 channels the float model only reaches ~91% test
accuracy, since global average pooling throws away the spatial layout.)

The float model is exported to ONNX (opset 13, batch 1) in a temporary
directory, quantized by ESP-PPQ for the ESP32-S3 (int8, power-of-two scales,
calibrated on training images) and exported as plain QDQ ONNX for ONNX
Runtime (TargetPlatform.ONNXRUNTIME).

Run from the repository root:
    python examples/pytorch/quantize_digits_esppq.py
Writes codegen-tests/models/digits_esppq.onnx,
codegen-tests/models/digits_esppq.framework.json (PPQ simulated accuracy) and
codegen-tests/models/digits_esppq.simulated.json: ESP-PPQ's own simulated outputs on the test
split, which rounds half up (RoundingPolicy.ROUND_HALF_UP for esp32s3, as ESP-DL's S3 kernels);
the reference of onnx2esp's `--rounding half-up`.
"""

import argparse
import collections
import os
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split, seed_everything  # noqa: E402
from record_outputs import f32_list, write_framework_json, write_recording  # noqa: E402
from train_digits_qat import accuracy, export_onnx, is_pow2, train  # noqa: E402

SEED = 0
TARGET = "esp32s3"
WIDTH = 32
ALLOWED_OPS = {
    "QuantizeLinear",
    "DequantizeLinear",
    "Conv",
    "Relu",
    "Clip",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Gemm",
    "MatMul",
    "Add",
    "Flatten",
    "Reshape",
    "Identity",
    "Constant",
}


class DigitsResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, WIDTH, 3, padding=1, stride=2)
        self.dw = nn.Conv2d(WIDTH, WIDTH, 3, padding=1, groups=WIDTH)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(WIDTH, 10)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = x + self.relu(self.dw(x))
        x = self.flatten(self.pool(x))
        return self.fc(x)


def canonicalize(path):
    """Sort initializers and value_info by name.

    The ESP-PPQ exporter collects them from a set, so their order (and so the
    file's bytes) changes from run to run; the graph itself does not. Sorting
    makes the fixture byte-for-byte reproducible without changing its meaning.
    """
    model = onnx.load(path)
    g = model.graph
    for field in (g.initializer, g.value_info):
        items = sorted(field, key=lambda t: t.name)
        del field[:]
        field.extend(items)
    onnx.save(model, path)


def check_exported(path):
    """Check op types, integer weight/bias encodings and power-of-two scales; print a summary."""
    model = onnx.load(path)
    g = model.graph
    ops = collections.Counter(n.op_type for n in g.node)
    print(f"op types: {dict(ops)}")
    bad = set(ops) - ALLOWED_OPS
    assert not bad, f"unsupported op types in {path}: {sorted(bad)}"

    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    inits[n.output[0]] = numpy_helper.to_array(a.t)
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]

    producers = {o: n for n in g.node for o in n.output}
    for n in g.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        scale = inits[n.input[1]]
        zp = inits[n.input[2]] if len(n.input) > 2 and n.input[2] else None
        for s in np.asarray(scale).reshape(-1):
            assert is_pow2(float(s)), f"{n.name}: scale {float(s)!r} is not a power of two"
        assert zp is None or np.all(zp == 0), f"{n.name}: zero point {zp!r} is not 0"
        exps = sorted({int(np.log2(float(s))) for s in np.asarray(scale).reshape(-1)})
        src = n.input[0]
        kind = "initializer" if src in inits else f"from {producers[src].op_type}" if src in producers else "graph input"
        dtype = inits[src].dtype if src in inits else (zp.dtype if zp is not None else "?")
        print(
            f"  {n.op_type:16s} {src:45s} ({kind}, {dtype}) scale exponent(s) {exps}"
            f" zp dtype {None if zp is None else zp.dtype}"
        )

    # Weights must be int8 and biases int32 DequantizeLinear inputs.
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm"):
            continue
        w_dq = producers.get(n.input[1])
        assert w_dq is not None and w_dq.op_type == "DequantizeLinear", f"{n.name}: weight is not dequantized"
        assert w_dq.input[0] in inits and inits[w_dq.input[0]].dtype == np.int8, f"{n.name}: weight is not int8"
        if len(n.input) > 2:
            b_dq = producers.get(n.input[2])
            assert b_dq is not None and b_dq.op_type == "DequantizeLinear", f"{n.name}: bias is not dequantized"
            assert b_dq.input[0] in inits and inits[b_dq.input[0]].dtype == np.int32, f"{n.name}: bias is not int32"
            b = inits[b_dq.input[0]]
            print(f"  {n.name}: int8 weight {inits[w_dq.input[0]].shape}, int32 bias range [{b.min()}, {b.max()}]")
    print("checks passed: allowed op types, int8 weights, int32 biases, power-of-two scales, zero points 0")


def quantize_to_qdq(
    model, calib, x_test, y_test, out, output_name, simulated_out=None, input_shape=(1, 1, 8, 8), setting=None
):
    """Quantizes a float PyTorch model with ESP-PPQ for the ESP32-S3 (int8, calibrated on
    `calib`), writes it as plain QDQ ONNX to `out` (canonicalized) and returns ESP-PPQ's
    simulated accuracy on the test split. `input_shape` is the batch-1 NCHW input (the 8x8
    digits by default). Shared by the whole-model fixture scripts.
    With `simulated_out`, also writes ESP-PPQ's simulated outputs on the test split there, in
    the recording schema of record_outputs.py. `setting` is an ESP-PPQ QuantizationSetting
    (default: ESP-PPQ's espdl setting), e.g. one whose dispatching table sends layers to int16."""
    from esp_ppq.api import espdl_quantize_onnx, export_ppq_graph
    from esp_ppq.core import TargetPlatform
    from esp_ppq.executor import TorchExecutor

    with tempfile.TemporaryDirectory(prefix="esppq_") as tmp:
        float_onnx = os.path.join(tmp, "float.onnx")
        export_onnx(model, float_onnx, output_name, input_shape)
        graph = espdl_quantize_onnx(
            onnx_import_file=float_onnx,
            espdl_export_file=os.path.join(tmp, "model.espdl"),
            calib_dataloader=calib,
            calib_steps=len(calib),
            input_shape=list(input_shape),
            target=TARGET,
            quant_type="w8a8",
            setting=setting,
            device="cpu",
            error_report=False,
            skip_export=True,
            verbose=0,
        )
        executor = TorchExecutor(graph=graph, device="cpu")
        correct = 0
        simulated = []
        for i in range(len(x_test)):
            y = executor.forward(inputs=torch.from_numpy(x_test[i : i + 1]))[0]
            correct += int(int(y.reshape(1, -1).argmax(dim=1)[0]) == int(y_test[i]))
            simulated.append(y.detach().numpy())
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        export_ppq_graph(graph=graph, platform=TargetPlatform.ONNXRUNTIME, graph_save_to=out)
    canonicalize(out)
    if simulated_out:
        platform = graph.operations[next(iter(graph.operations))].platform
        write_recording(
            simulated_out,
            model_path=out,
            input_name="input",
            output_name=output_name,
            input_shape=list(x_test[:1].shape),
            output_shape=list(simulated[0].shape),
            inputs=[f32_list(x_test[i : i + 1]) for i in range(len(x_test))],
            outputs=[f32_list(y) for y in simulated],
            labels=[int(v) for v in y_test],
            reference_accuracy=correct / len(x_test),
            framework_accuracy=correct / len(x_test),
            extra={"reference": f"esp-ppq TorchExecutor simulation, target {TARGET}, platform {platform}"},
        )
    return correct / len(x_test)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="codegen-tests/models/digits_esppq.onnx")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--calib", type=int, default=256, help="number of training images used for calibration")
    args = ap.parse_args()

    seed_everything(SEED)

    x_train, y_train, x_test, y_test = load_split()

    model = DigitsResNet()
    print("float training")
    train(model, x_train, y_train, epochs=args.epochs, lr=1e-2)
    float_acc = accuracy(model, x_test, y_test)
    print(f"PyTorch float accuracy (test): {float_acc:.4f}")
    model.eval()

    calib = [torch.from_numpy(x_train[i : i + 1]) for i in range(args.calib)]

    simulated_out = os.path.splitext(args.out)[0] + ".simulated.json"
    ppq_acc = quantize_to_qdq(model, calib, x_test, y_test, args.out, "logits", simulated_out)
    print(f"ESP-PPQ simulated ({TARGET} int8) accuracy (test): {ppq_acc:.4f}")
    print(f"wrote {args.out}")
    check_exported(args.out)

    side = write_framework_json(args.out, f"esp-ppq simulation, target {TARGET} int8", float_acc, ppq_acc)
    print(f"wrote {side}")
    print(f"wrote {simulated_out}")


if __name__ == "__main__":
    main()
