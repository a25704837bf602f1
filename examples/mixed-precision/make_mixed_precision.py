"""A mixed-precision example: ESP-PPQ for the ESP32-S3 with int16 on the sensitive layers.

One float CNN on scikit-learn's 8x8 digits, quantized three ways by ESP-PPQ (target esp32s3):

- outlier_cnn_int8_esppq:  every layer int8 (ESP-PPQ's w8a8)
- outlier_cnn_mixed_esppq: conv1, its Relu and conv2 on ESP-PPQ's 16-bit-activation platform
  (TargetPlatform.ESPDL_S3_W8A16: int16 activations, int8 weights), everything else int8
- outlier_cnn_int16_esppq: every layer on ESPDL_S3_W8A16

Model (float, PyTorch):
    Conv2d(1, 16, 3, pad 1) + ReLU                       (conv1: 16 x 8 x 8)
    -> Conv2d(16, 32, 3, pad 1, stride 2) + ReLU         (conv2: 32 x 4 x 4)
    -> MaxPool2d(2) -> Flatten -> Linear(128, 10)

How the int8 loss is provoked: after float training, OUTLIER_CHANNELS of conv1's output
channels are scaled up by OUTLIER_GAIN (their weights and bias) and conv2's weights that read
them scaled down by the same factor. ReLU is positively homogeneous, so the float model is
unchanged (same logits up to rounding), but conv1's output now spans a range 128 times wider
than most of its channels use: the kind of per-tensor range imbalance a network without
batch-norm folding or cross-layer equalization can have. At int8 one exponent covers that
tensor and the ordinary channels keep a few levels; at int16 they keep 256 times more. The
weights stay int8 in every variant (W8A16), so what the rescaling costs in weight resolution
is not regained by int16 activations.

ESP-PPQ's ONNX Runtime exporter (TargetPlatform.ONNXRUNTIME) writes every quantization wider
than 8 bits with an int32 zero point, so its int16 activations come out as QuantizeLinear to
int32, which ONNX does not define and ONNX Runtime refuses, and the 16-bit platform's 40-bit
biases as int64, which DequantizeLinear does not take. `to_int16_qdq` rewrites those activation
zero points to int16, sets the opset to 21 (the first to define int16 QuantizeLinear) and
writes the int64 biases as int32 (asserting that they fit); the scales, the values and the
graph are unchanged.

Run from the repository root (seeded: the same files on every run):
    python examples/mixed-precision/make_mixed_precision.py
Writes codegen-tests/models/outlier_cnn_{int8,mixed,int16}_esppq.onnx, their .framework.json
(float and ESP-PPQ simulated accuracy) and their ONNX Runtime recordings (.expected.json, on
the 360 test digits, by examples/pytorch/record_outputs.py), and prints the accuracy table.

To see what another choice of int16 layers gives (nothing is written):
    python examples/mixed-precision/make_mixed_precision.py --try-layers /conv2/Conv
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples", "pytorch"))
from digits_data import load_split, seed_everything  # noqa: E402
from quantize_digits_esppq import check_exported, quantize_to_qdq  # noqa: E402
from record_outputs import reference_session, write_framework_json  # noqa: E402
from train_digits_qat import accuracy, train  # noqa: E402

SEED = 0
TARGET = "esp32s3"
OUTLIER_CHANNELS = 2
OUTLIER_GAIN = 128.0
INT16_OPSET = 21
MODELS = os.path.join(ROOT, "codegen-tests", "models")

# The ONNX node names of the layers sent to int16 in the mixed model (torch.onnx's names).
SENSITIVE_LAYERS = ["/conv1/Conv", "/relu/Relu", "/conv2/Conv"]
ALL_LAYERS = SENSITIVE_LAYERS + ["/relu_1/Relu", "/pool/MaxPool", "/flatten/Flatten", "/fc/Gemm"]


class OutlierCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, stride=2)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.fc(self.flatten(self.pool(x)))


@torch.no_grad()
def widen_conv1_range(model):
    """Scales OUTLIER_CHANNELS of conv1's outputs by OUTLIER_GAIN and conv2's weights on them by
    its inverse: the same float function, a far wider conv1 output range."""
    channels = list(range(OUTLIER_CHANNELS))
    model.conv1.weight[channels] *= OUTLIER_GAIN
    model.conv1.bias[channels] *= OUTLIER_GAIN
    model.conv2.weight[:, channels] /= OUTLIER_GAIN


def int16_setting(layers):
    """ESP-PPQ's espdl setting with `layers` dispatched to the ESP32-S3's 16-bit-activation,
    8-bit-weight platform."""
    from esp_ppq.api.setting import QuantizationSettingFactory
    from esp_ppq.core import TargetPlatform

    setting = QuantizationSettingFactory.espdl_setting()
    for name in layers:
        setting.dispatching_table.append(name, TargetPlatform.ESPDL_S3_W8A16)
    return setting


def to_int16_qdq(path):
    """Rewrites ESP-PPQ's int32 activation quantization (its ONNX Runtime export of every
    activation wider than 8 bits) to int16 at opset 21, and its int64 biases to int32.
    Returns how many Q/DQ nodes changed."""
    model = onnx.load(path)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    changed = 0
    int16_tensors = set()
    for n in g.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(n.input) < 3:
            continue
        if n.op_type == "DequantizeLinear" and n.input[0] in inits:
            # A constant. The 16-bit platform's biases have 40 bits and come out as int64;
            # those that fit are written as the int32 that ONNX's DequantizeLinear takes.
            bias = inits[n.input[0]]
            if bias.data_type == TensorProto.INT64:
                value = numpy_helper.to_array(bias)
                info = np.iinfo(np.int32)
                assert value.min() >= info.min and value.max() <= info.max, f"{n.name}: bias exceeds int32"
                bias.CopyFrom(numpy_helper.from_array(value.astype(np.int32), bias.name))
                zp = inits[n.input[2]]
                assert zp.data_type == TensorProto.INT32
                changed += 1
            continue
        zp = inits[n.input[2]]
        if zp.data_type != TensorProto.INT32:
            continue
        value = numpy_helper.to_array(zp)
        assert np.all(value == 0), f"{n.name}: zero point {value} is not 0"
        zp.CopyFrom(numpy_helper.from_array(value.astype(np.int16), zp.name))
        int16_tensors.add(n.output[0] if n.op_type == "QuantizeLinear" else n.input[0])
        changed += 1
    for info in list(g.value_info) + list(g.input) + list(g.output):
        if info.name in int16_tensors:
            info.type.tensor_type.elem_type = TensorProto.INT16
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = max(opset.version, INT16_OPSET)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return changed


def record(path):
    """ONNX Runtime's outputs on the test split, by the repository's recording script."""
    subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "pytorch", "record_outputs.py"), path],
        check=True,
    )
    with open(os.path.splitext(path)[0] + ".expected.json") as f:
        return json.load(f)["reference_accuracy"]


def try_layers(model, calib, x_test, y_test, layers):
    """Quantizes with int16 on `layers` into a temporary directory and prints ESP-PPQ's
    simulated and ONNX Runtime's accuracy; writes nothing in the repository."""
    with tempfile.TemporaryDirectory(prefix="mixed_") as tmp:
        out = os.path.join(tmp, "model.onnx")
        torch.manual_seed(SEED)
        ppq_acc = quantize_to_qdq(model, calib, x_test, y_test, out, "logits", setting=int16_setting(layers))
        to_int16_qdq(out)
        session = reference_session(out)
        (inp,) = session.get_inputs()
        correct = sum(
            int(np.argmax(session.run(None, {inp.name: x_test[i : i + 1]})[0]) == y_test[i]) for i in range(len(x_test))
        )
    print(f"int16 on {layers or 'no layer'}: ESP-PPQ simulated {ppq_acc:.2%}, ONNX Runtime {correct / len(x_test):.2%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--try-layers",
        nargs="*",
        metavar="NODE",
        help="only print the accuracy with int16 on these ONNX nodes (e.g. /conv2/Conv); write no file",
    )
    args = ap.parse_args()
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()

    model = OutlierCnn()
    print("float training")
    train(model, x_train, y_train, epochs=15, lr=1e-2)
    trained_acc = accuracy(model, x_test, y_test)
    widen_conv1_range(model)
    float_acc = accuracy(model, x_test, y_test)
    print(f"float accuracy {trained_acc:.4f} as trained, {float_acc:.4f} with conv1's range widened")
    model.eval()
    calib = [torch.from_numpy(x_train[i : i + 1]) for i in range(128)]
    if args.try_layers is not None:
        try_layers(model, calib, x_test, y_test, args.try_layers)
        return

    variants = [
        ("int8", "all int8 (w8a8)", []),
        ("mixed", "int16 activations on " + ", ".join(SENSITIVE_LAYERS), SENSITIVE_LAYERS),
        ("int16", "int16 activations on every layer", ALL_LAYERS),
    ]
    rows = []
    for short, what, layers in variants:
        name = f"outlier_cnn_{short}_esppq"
        out = os.path.join(MODELS, f"{name}.onnx")
        torch.manual_seed(SEED)
        ppq_acc = quantize_to_qdq(model, calib, x_test, y_test, out, "logits", setting=int16_setting(layers))
        changed = to_int16_qdq(out)
        print(f"{name}: {changed} Q/DQ nodes rewritten from int32 to int16")
        check_exported(out)
        write_framework_json(out, f"esp-ppq simulation, target {TARGET}, {what}", float_acc, ppq_acc)
        ort_acc = record(out)
        rows.append((name, what, ppq_acc, ort_acc))

    print(f"\nfloat (PyTorch): {float_acc:.2%}")
    print("| model | int16 on | ESP-PPQ simulated | ONNX Runtime |")
    print("|---|---|---|---|")
    for name, what, ppq_acc, ort_acc in rows:
        print(f"| `{name}` | {what} | {ppq_acc:.2%} | {ort_acc:.2%} |")


if __name__ == "__main__":
    main()
