"""The digits CNN quantized by ONNX Runtime's `quantize_static`, in four variants, for the
scale policies (none of them has power-of-two scales):

- digits_ort_qdq:        QDQ, symmetric int8 activations and weights, per-tensor
- digits_ort_qoperator:  the same in QOperator format (QLinearConv, QLinearMatMul, ...)
- digits_ort_perchannel: QDQ, symmetric int8, per-channel weights
- digits_ort_uint8:      QDQ, asymmetric uint8 activations and weights (the quantizer's
                         classic default, as TFLite-converted models also are)
- digits_ort_int16:      QDQ, symmetric int16 activations and int8 weights (A16W8; opset 21
                         QuantizeLinear/DequantizeLinear)

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
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split, seed_everything  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402
from train_digits_qat import export_onnx, train_float  # noqa: E402

SEED = 0
CALIBRATION_SAMPLES = 256
OUT_DIR = "codegen-tests/models/ort"



def settings(quant_format, quant_type=QuantType.QInt8, per_channel=False, symmetric=True, weight_type=None):
    """quantize_static arguments: one integer type for activations and weights, unless
    `weight_type` says otherwise."""
    return dict(
        quant_format=quant_format,
        per_channel=per_channel,
        activation_type=quant_type,
        weight_type=weight_type or quant_type,
        extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": symmetric},
    )


VARIANTS = {
    "digits_ort_qdq": settings(QuantFormat.QDQ),
    "digits_ort_qoperator": settings(QuantFormat.QOperator),
    "digits_ort_perchannel": settings(QuantFormat.QDQ, per_channel=True),
    "digits_ort_uint8": settings(QuantFormat.QDQ, QuantType.QUInt8, symmetric=False),
    "digits_ort_int16": settings(QuantFormat.QDQ, QuantType.QInt16, weight_type=QuantType.QInt8),
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

    model, float_acc = train_float(x_train, y_train, x_test, y_test)

    os.makedirs(OUT_DIR, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        float_path = os.path.join(tmp, "digits_float.onnx")
        export_onnx(model.eval(), float_path)
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
