"""An MLP quantized by ONNX Runtime's `quantize_static` whose graph begins with a `Flatten` on
the float input, before the first QuantizeLinear: ORT's quantizer leaves shape ops on the
float side alone, and onnx2esp moves them inside the quantized core.

The float model is Flatten -> Linear(64, 32) -> ReLU -> Linear(32, 10), trained on the 8x8
digits with a fixed seed, exported to ONNX (opset 13) and calibrated with MinMax on the first
CALIBRATION_SAMPLES training images; QDQ format, symmetric int8 activations and weights, per
tensor. Its scales are not powers of two, so the tests generate it under `--scales snap` and
compare with ONNX Runtime running `onnx2esp rewrite`'s output (record_rewritten.py).

Run from the repository root:
    python examples/pytorch/quantize_mlp_ort.py
Writes codegen-tests/models/ort/mlp_ort_flatten.onnx and its .framework.json.
"""

import os
import sys
import tempfile

import numpy as np
import onnxruntime
import torch
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split, seed_everything  # noqa: E402
from quantize_digits_ort import DigitsReader, ort_accuracy  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402

SEED = 0
EPOCHS = 40
CALIBRATION_SAMPLES = 256
OUT = "codegen-tests/models/ort/mlp_ort_flatten.onnx"


def train(x_train, y_train, x_test, y_test):
    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(64, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.from_numpy(x_train), torch.from_numpy(y_train).long()
    for _ in range(EPOCHS):
        for i in range(0, len(x), 64):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        predictions = model(torch.from_numpy(x_test)).argmax(1).numpy()
    return model.eval(), float(np.mean(predictions == y_test))


def main():
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()
    model, float_acc = train(x_train, y_train, x_test, y_test)
    with tempfile.TemporaryDirectory() as tmp:
        float_path = os.path.join(tmp, "mlp_float.onnx")
        torch.onnx.export(
            model,
            torch.from_numpy(x_test[:1]),
            float_path,
            input_names=["input"],
            output_names=["logits"],
            opset_version=13,
            dynamo=False,
        )
        quantize_static(
            float_path,
            OUT,
            DigitsReader(x_train[:CALIBRATION_SAMPLES]),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
        )
    quantized_acc = ort_accuracy(OUT, x_test, y_test)
    print(f"wrote {OUT}: float accuracy {float_acc:.4f}, ONNX Runtime accuracy {quantized_acc:.4f}")
    write_framework_json(
        OUT,
        f"onnxruntime {onnxruntime.__version__} quantize_static (QDQ, int8, Flatten on the float input)",
        float_acc,
        quantized_acc,
    )


if __name__ == "__main__":
    main()
