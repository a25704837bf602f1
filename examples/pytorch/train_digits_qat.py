"""Train a small CNN on sklearn digits with power-of-two QAT and export it to ONNX.

Model (eager mode):
    QuantStub -> Conv2d(1, 8, 3, padding=1) + ReLU (fused ConvReLU2d)
    -> MaxPool2d(2) -> Flatten -> Linear(128, 10) -> DeQuantStub

Steps: float training, prepare_qat with the power-of-two qconfig, QAT
fine-tuning, freeze observers, export the *fake-quant* model (not converted)
to ONNX (QuantizeLinear/DequantizeLinear pairs, opset 13, batch 1).

Run from the repository root:
    python examples/pytorch/train_digits_qat.py
Writes examples/models/digits.onnx and examples/models/digits.framework.json
(the PyTorch fake-quant accuracy, read by record_outputs.py).
"""

import argparse
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.ao import quantization as tq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split, seed_everything  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402
from pow2_observer import pow2_qconfig  # noqa: E402

SEED = 0


class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8 * 4 * 4, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu(self.conv(x))
        x = self.pool(x)
        x = self.flatten(x)
        x = self.fc(x)
        return self.dequant(x)


def train(model, x, y, epochs, lr, batch_size=32, seed=SEED):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        print(f"  epoch {epoch + 1}/{epochs}: loss {total / len(xt):.4f}")


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    pred = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    return float((pred == y).mean())


def train_float(x_train, y_train, x_test, y_test, epochs=15):
    """Float training of DigitsNet: the common start of the QAT, PTQ and ONNX Runtime
    fixtures. Returns the model and its test accuracy."""
    model = DigitsNet()
    print("float training")
    train(model, x_train, y_train, epochs=epochs, lr=1e-2)
    float_acc = accuracy(model, x_test, y_test)
    print(f"PyTorch float accuracy (test): {float_acc:.4f}")
    return model, float_acc


def export_onnx(model, path, output_name="logits", input_shape=(1, 1, 8, 8)):
    """TorchScript export of a model at batch 1 (the 8x8 digits by default), opset 13, input
    `input`."""
    torch.onnx.export(
        model,
        (torch.zeros(*input_shape),),
        path,
        dynamo=False,
        opset_version=13,
        input_names=["input"],
        output_names=[output_name],
    )


def is_pow2(v):
    m, _ = np.frexp(np.float64(v))
    return v > 0 and m == 0.5


def check_pow2_qdq(path):
    """Assert every Q/DQ scale is an exact power of two and every zero point is 0."""
    model = onnx.load(path)
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    consts[node.output[0]] = numpy_helper.to_array(a.t)
    # The TorchScript exporter deduplicates equal constants and re-emits them
    # through Identity nodes (e.g. a zero point shared by all Q/DQ nodes).
    changed = True
    while changed:
        changed = False
        for node in model.graph.node:
            if node.op_type == "Identity" and node.input[0] in consts and node.output[0] not in consts:
                consts[node.output[0]] = consts[node.input[0]]
                changed = True
    n = 0
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        n += 1
        scale = consts.get(node.input[1])
        assert scale is not None, f"{node.name}: scale {node.input[1]} is not a constant"
        for s in np.asarray(scale).reshape(-1):
            assert is_pow2(float(s)), f"{node.name}: scale {float(s)!r} is not a power of two"
        if len(node.input) > 2 and node.input[2]:
            zp = consts.get(node.input[2])
            assert zp is not None, f"{node.name}: zero point {node.input[2]} is not a constant"
            assert np.all(np.asarray(zp) == 0), f"{node.name}: zero point {zp!r} is not 0"
    assert n > 0, "no QuantizeLinear/DequantizeLinear nodes in the exported model"
    print(f"checked {n} Q/DQ nodes: all scales are powers of two, all zero points are 0")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="examples/models/digits.onnx")
    ap.add_argument("--float-epochs", type=int, default=15)
    ap.add_argument("--qat-epochs", type=int, default=5)
    args = ap.parse_args()

    seed_everything(SEED)

    x_train, y_train, x_test, y_test = load_split()

    model, float_acc = train_float(x_train, y_train, x_test, y_test, epochs=args.float_epochs)

    model.eval()
    model = tq.fuse_modules(model, [["conv", "relu"]])
    model.train()
    model.qconfig = pow2_qconfig()
    tq.prepare_qat(model, inplace=True)
    print("QAT fine-tuning")
    train(model, x_train, y_train, epochs=args.qat_epochs, lr=1e-3, seed=SEED + 1)
    model.apply(tq.disable_observer)
    qat_acc = accuracy(model, x_test, y_test)
    print(f"PyTorch fake-quant accuracy (test): {qat_acc:.4f}")

    model.eval()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    export_onnx(model, args.out)
    print(f"wrote {args.out}")
    check_pow2_qdq(args.out)

    side = write_framework_json(args.out, f"torch {torch.__version__} fake-quant (QAT, power-of-two observers)", float_acc, qat_acc)
    print(f"wrote {side}")


if __name__ == "__main__":
    main()
