"""The digits CNN quantized by ONNX Runtime's `quantize_static`, in four variants, for the
scale policies of issue 3 (none of them has power-of-two scales):

- digits_ort_qdq:        QDQ, symmetric int8 activations and weights, per-tensor
- digits_ort_qoperator:  the same in QOperator format (QLinearConv, QLinearMatMul, ...)
- digits_ort_perchannel: QDQ, symmetric int8, per-channel weights
- digits_ort_uint8:      QDQ, asymmetric uint8 activations and weights (the quantizer's
                         classic default, as TFLite-converted models also are)

The float model is train_digits_qat.DigitsNet (Conv+ReLU, MaxPool, Flatten, Linear) trained
in float with the same seed and schedule as the QAT script, exported to ONNX (opset 13) and
calibrated with MinMax on the first CALIBRATION_SAMPLES training images, one at a time.

Run from the repository root, then record each model with record_outputs.py:
    python examples/pytorch/quantize_digits_ort.py
Writes codegen-tests/models/ort/<variant>.onnx and <variant>.framework.json.
"""

import os
import sys
import tempfile

import numpy as np
import onnxruntime
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split, seed_everything  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402
from train_digits_qat import DigitsNet, accuracy, train  # noqa: E402

SEED = 0
CALIBRATION_SAMPLES = 256
OUT_DIR = "codegen-tests/models/ort"

SYMMETRIC = {"ActivationSymmetric": True, "WeightSymmetric": True}
VARIANTS = {
    "digits_ort_qdq": dict(
        quant_format=QuantFormat.QDQ,
        per_channel=False,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        extra_options=SYMMETRIC,
    ),
    "digits_ort_qoperator": dict(
        quant_format=QuantFormat.QOperator,
        per_channel=False,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        extra_options=SYMMETRIC,
    ),
    "digits_ort_perchannel": dict(
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        extra_options=SYMMETRIC,
    ),
    "digits_ort_uint8": dict(
        quant_format=QuantFormat.QDQ,
        per_channel=False,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QUInt8,
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": False},
    ),
}


class DigitsReader(CalibrationDataReader):
    """Feeds calibration images one at a time (batch 1, the exported input shape)."""

    def __init__(self, images):
        self.samples = iter([{"input": images[i : i + 1]} for i in range(len(images))])

    def get_next(self):
        return next(self.samples, None)


def ort_accuracy(path, x, y):
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    predictions = [int(np.argmax(session.run(None, {"input": x[i : i + 1]})[0])) for i in range(len(x))]
    return float(np.mean(np.array(predictions) == y))


def main():
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()

    model = DigitsNet()
    print("float training")
    train(model, x_train, y_train, epochs=15, lr=1e-2)
    float_acc = accuracy(model, x_test, y_test)
    print(f"PyTorch float accuracy (test): {float_acc:.4f}")

    os.makedirs(OUT_DIR, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        float_path = os.path.join(tmp, "digits_float.onnx")
        torch.onnx.export(
            model.eval(),
            (torch.zeros(1, 1, 8, 8),),
            float_path,
            dynamo=False,
            opset_version=13,
            input_names=["input"],
            output_names=["logits"],
        )
        for name, settings in VARIANTS.items():
            out = os.path.join(OUT_DIR, f"{name}.onnx")
            quantize_static(
                float_path,
                out,
                DigitsReader(x_train[:CALIBRATION_SAMPLES]),
                **settings,
            )
            quantized_acc = ort_accuracy(out, x_test, y_test)
            print(f"wrote {out}: ONNX Runtime accuracy {quantized_acc:.4f}")
            write_framework_json(
                out,
                f"onnxruntime {onnxruntime.__version__} quantize_static ({name[len('digits_ort_'):]})",
                float_acc,
                quantized_acc,
            )


if __name__ == "__main__":
    main()
