"""The float residual CNN of the PT2E fixtures, and its float training on digits.

    Conv3x3(1->16)+ReLU -> [depthwise Conv3x3 + ReLU -> Conv1x1 -> Add(skip) -> ReLU]
    -> Conv3x3 stride 2 (16->32)+ReLU -> [the same block at 32 channels]
    -> mean over H and W (ReduceMean in ONNX) -> Linear(32->10)

No BatchNorm, so PTQ and QAT see the same layers.
"""

import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_digits_qat import accuracy, train  # noqa: E402

FLOAT_EPOCHS = 30
FLOAT_LR = 3e-3


class ResidualBlock(nn.Module):
    """Depthwise 3x3 + ReLU, pointwise 1x1, residual add, ReLU."""

    def __init__(self, channels):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        y = self.pointwise(torch.relu(self.depthwise(x)))
        return torch.relu(x + y)


class ResidualNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1)
        self.block1 = ResidualBlock(16)
        self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.block2 = ResidualBlock(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.block1(torch.relu(self.stem(x)))
        x = self.block2(torch.relu(self.down(x)))
        return self.fc(x.mean(dim=(2, 3)))


def train_float(x_train, y_train, x_test, y_test):
    """Float training of ResidualNet: the common start of the PT2E PTQ and QAT fixtures.
    Returns the model (in eval mode) and its test accuracy."""
    model = ResidualNet()
    print("float training")
    train(model, x_train, y_train, epochs=FLOAT_EPOCHS, lr=FLOAT_LR)
    float_acc = accuracy(model, x_test, y_test)
    print(f"PyTorch float accuracy (test): {float_acc:.4f}")
    return model.eval(), float_acc
