"""Two whole-model fixtures quantized by ESP-PPQ for the ESP32-S3.

- residual_cnn_esppq: a small residual CNN on the 8x8 digits
    Conv 3x3 + ReLU6 -> depthwise Conv 3x3 + ReLU6 -> pointwise Conv 1x1, residual Add
    -> GlobalAveragePool -> Flatten -> Linear -> Sigmoid
- kws1d_esppq: a keyword-spotting-style 1-D model, reading the 8 rows of a digit as 8
  channels over 8 time steps
    Reshape -> Conv1d + Tanh -> MaxPool1d -> two Conv1d + LeakyRelu branches -> Concat
    -> AvgPool1d -> Flatten -> Linear

Both are trained briefly in float (the point is the quantized graph, not accuracy),
quantized with espdl_quantize_onnx (target esp32s3, w8a8, power-of-two scales) and exported
as QDQ ONNX for ONNX Runtime, exactly as examples/pytorch/quantize_digits_esppq.py does.

Run from the repository root, then record with examples/pytorch/record_outputs.py:
    python examples/ops/quantize_whole_models_esppq.py
Writes codegen-tests/models/{residual_cnn_esppq,kws1d_esppq}.onnx and .framework.json.
"""

import os
import sys

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples", "pytorch"))
from digits_data import load_split, seed_everything  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402
from quantize_digits_esppq import quantize_to_qdq  # noqa: E402
from train_digits_qat import accuracy, train  # noqa: E402

SEED = 0
TARGET = "esp32s3"


class ResidualCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1)
        self.depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pointwise = nn.Conv2d(16, 16, 1)
        self.relu6 = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, 10)
        # Trained on logits; the exported model ends in Sigmoid (argmax unchanged).
        self.sigmoid = False

    def forward(self, x):
        x = self.relu6(self.stem(x))
        x = x + self.pointwise(self.relu6(self.depthwise(x)))
        x = self.fc(self.flatten(self.pool(x)))
        return torch.sigmoid(x) if self.sigmoid else x


class Kws1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool1d(2)
        self.branch_a = nn.Conv1d(16, 8, 1)
        self.branch_b = nn.Conv1d(16, 8, 3, padding=1)
        self.leaky = nn.LeakyReLU(0.125)
        self.average = nn.AvgPool1d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 2, 10)

    def forward(self, x):
        x = torch.flatten(x, 1, 2)  # [N, 1, 8, 8] -> [N, 8 rows as channels, 8 steps]
        x = self.pool(torch.tanh(self.conv(x)))
        x = torch.cat([self.leaky(self.branch_a(x)), self.leaky(self.branch_b(x))], dim=1)
        return self.fc(self.flatten(self.average(x)))


def quantize(name, model, x_train, y_train, x_test, y_test):
    print(f"{name}: float training")
    train(model, x_train, y_train, epochs=15, lr=1e-2)
    if hasattr(model, "sigmoid"):
        model.sigmoid = True
    float_acc = accuracy(model, x_test, y_test)
    model.eval()
    calib = [torch.from_numpy(x_train[i : i + 1]) for i in range(128)]
    out = os.path.join(ROOT, "codegen-tests", "models", f"{name}.onnx")
    ppq_acc = quantize_to_qdq(model, calib, x_test, y_test, out, "output")
    write_framework_json(out, f"esp-ppq simulation, target {TARGET} int8", float_acc, ppq_acc)
    print(f"{name}: float accuracy {float_acc:.4f}, ESP-PPQ simulated {ppq_acc:.4f}; wrote {out}")


def main():
    seed_everything(SEED)
    data = load_split()
    quantize("residual_cnn_esppq", ResidualCnn(), *data)
    torch.manual_seed(SEED)
    quantize("kws1d_esppq", Kws1d(), *data)


if __name__ == "__main__":
    main()
