"""PyTorch eager-mode post-training quantization (PTQ) with the power-of-two observer.

The float model and training are train_digits_qat's (DigitsNet, same seed and schedule).
Instead of QAT fine-tuning, the weights stay as trained: after fusing Conv+ReLU, the
power-of-two qconfig is attached, the observers watch the training split once (fake
quantization off, no gradient step), then they are frozen and the fake-quant model is
exported like the QAT one (QuantizeLinear/DequantizeLinear, opset 13, batch 1). Every scale
is a power of two with zero point 0, so onnx2esp lowers it under `--scales exact`.

Run from the repository root, then record with record_outputs.py:
    python examples/pytorch/ptq_digits_pow2.py
Writes codegen-tests/models/digits_ptq.onnx and digits_ptq.framework.json.
"""

import os
import sys

import torch
from torch.ao import quantization as tq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split, seed_everything  # noqa: E402
from pow2_observer import pow2_qconfig  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402
from train_digits_qat import accuracy, check_pow2_qdq, export_onnx, train_float  # noqa: E402

SEED = 0
OUT = "codegen-tests/models/digits_ptq.onnx"
CALIBRATION_BATCH = 32


@torch.no_grad()
def calibrate(model, x):
    """One pass over `x` with observers on and fake quantization off: statistics only."""
    model.apply(tq.disable_fake_quant)
    model.apply(tq.enable_observer)
    images = torch.from_numpy(x)
    for i in range(0, len(images), CALIBRATION_BATCH):
        model(images[i : i + CALIBRATION_BATCH])
    model.apply(tq.disable_observer)
    model.apply(tq.enable_fake_quant)


def main():
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()

    model, float_acc = train_float(x_train, y_train, x_test, y_test)

    model.eval()
    model = tq.fuse_modules(model, [["conv", "relu"]])
    model.qconfig = pow2_qconfig()
    # prepare_qat inserts the FakeQuantize modules the exporter turns into Q/DQ pairs; it
    # needs training mode, but no training step follows.
    model.train()
    tq.prepare_qat(model, inplace=True)
    model.eval()
    calibrate(model, x_train)
    ptq_acc = accuracy(model, x_test, y_test)
    print(f"PyTorch fake-quant accuracy after PTQ (test): {ptq_acc:.4f}")

    export_onnx(model, OUT)
    print(f"wrote {OUT}")
    check_pow2_qdq(OUT)
    side = write_framework_json(
        OUT, f"torch {torch.__version__} fake-quant (eager PTQ, power-of-two observers)", float_acc, ptq_acc
    )
    print(f"wrote {side}")


if __name__ == "__main__":
    main()
