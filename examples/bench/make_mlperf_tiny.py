"""The MLPerf Tiny benchmark architectures at their published sizes, quantized by ESP-PPQ for the
ESP32-S3, as whole-model fixtures (codegen-tests/models/*_esppq.onnx with ONNX Runtime
recordings):

- ds_cnn_kws_esppq: DS-CNN for keyword spotting, a 49x10 MFCC-shaped input, 12 classes
  (Conv 10x4 /2 to 64 channels, four depthwise-separable blocks of 64, average pool, Linear);
- resnet8_esppq: ResNet-8 for image classification, 32x32x3, 10 classes (three stacks of 16,
  32 and 64 filters, the last two downsampling with a 1x1 shortcut);
- mobilenet_v1_vww_esppq: MobileNetV1 width 0.25 for visual wake words, 96x96x3, 2 classes;
- fc_autoencoder_esppq: the fully connected anomaly-detection autoencoder, 640 inputs,
  128-128-128-128-8-128-128-128-128-640 (without the reference's BatchNorm layers, which
  fold into the Linear layers at inference anyway).

The weights are seeded and trained briefly on synthetic data (a seeded random teacher gives the
labels; the autoencoder reconstructs its input): accuracy is not the point, the size and shape
of the quantized graphs are, and ESP-PPQ calibrates on real activations. Inputs are multiples of
1/16 in [-2, 2) so that the recordings are short. ONNX Runtime records SAMPLES inputs of each
(graph optimisations off, one thread, as examples/pytorch/record_outputs.py).

Run from the repository root (a few minutes on 2 cores):
    /work/venv/bin/python examples/bench/make_mlperf_tiny.py
"""

import os
import sys

# ESP-PPQ numbers its exported variables in set order, which follows Python's string hashing:
# fix the hash seed (it must be set before the interpreter starts) so the .onnx is reproducible.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples", "pytorch"))
from digits_data import seed_everything  # noqa: E402
from quantize_digits_esppq import quantize_to_qdq  # noqa: E402
from record_outputs import f32_list, reference_session, write_framework_json, write_recording  # noqa: E402

SEED = 0
TARGET = "esp32s3"
SAMPLES = 8
TRAIN = 512
CALIBRATION = 32
TEST = 16


def bn_relu(channels):
    return [nn.BatchNorm2d(channels), nn.ReLU()]


class DsCnn(nn.Module):
    """MLPerf Tiny's DS-CNN (keyword spotting): input [1, 1, 49, 10]."""

    def __init__(self, classes=12, width=64):
        super().__init__()
        layers = [nn.Conv2d(1, width, (10, 4), (2, 2), (5, 1), bias=False), *bn_relu(width)]
        for _ in range(4):
            layers += [nn.Conv2d(width, width, 3, 1, 1, groups=width, bias=False), *bn_relu(width)]
            layers += [nn.Conv2d(width, width, 1, bias=False), *bn_relu(width)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class ResidualStack(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            *bn_relu(cout),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet8(nn.Module):
    """MLPerf Tiny's ResNet-8 (image classification): input [1, 3, 32, 32]."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), *bn_relu(16))
        self.stacks = nn.Sequential(ResidualStack(16, 16, 1), ResidualStack(16, 32, 2), ResidualStack(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.stacks(self.stem(x))), 1))


class MobileNetV1(nn.Module):
    """MLPerf Tiny's MobileNetV1 at width 0.25 (visual wake words): input [1, 3, 96, 96]."""

    # (output channels at width 1.0, stride) of the 13 depthwise-separable blocks.
    BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
              (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

    def __init__(self, classes=2, width=0.25):
        super().__init__()
        channels = int(32 * width)
        layers = [nn.Conv2d(3, channels, 3, 2, 1, bias=False), *bn_relu(channels)]
        for c, stride in self.BLOCKS:
            out = int(c * width)
            layers += [nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False), *bn_relu(channels)]
            layers += [nn.Conv2d(channels, out, 1, bias=False), *bn_relu(out)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class FcAutoencoder(nn.Module):
    """MLPerf Tiny's anomaly-detection autoencoder: input [1, 640]."""

    def __init__(self, inputs=640, hidden=128, code=8):
        super().__init__()
        sizes = [inputs, hidden, hidden, hidden, hidden, code, hidden, hidden, hidden, hidden]
        layers = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(hidden, inputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def synthetic_inputs(generator, count, shape):
    """Multiples of 1/16 in [-2, 2), smooth enough along the last axis to look like features."""
    x = torch.randn((count, *shape), generator=generator)
    x = (x + torch.roll(x, 1, dims=-1)) / 2
    return (torch.clamp(torch.round(x * 16), -32, 31) / 16).numpy().astype(np.float32)


def teacher_labels(x, classes, seed):
    """The argmax of a seeded random linear map of the flattened input."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn((x[0].size, classes), generator=g)
    return (torch.from_numpy(x.reshape(len(x), -1)) @ w).argmax(dim=1).numpy().astype(np.int64)


def train_briefly(model, x, y, steps=60, lr=5e-3, batch=32, reconstruct=False):
    g = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss() if reconstruct else nn.CrossEntropyLoss()
    xt = torch.from_numpy(x)
    yt = xt if reconstruct else torch.from_numpy(y)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(xt), (batch,), generator=g)
        opt.zero_grad()
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    model.eval()
    return float(loss)


def record(model_path, x, labels, input_shape):
    """ONNX Runtime's outputs for the first SAMPLES inputs, in the recording schema."""
    sess = reference_session(model_path)
    (inp,) = sess.get_inputs()
    (outp,) = sess.get_outputs()
    inputs, outputs, correct = [], [], 0
    for i in range(SAMPLES):
        (y,) = sess.run([outp.name], {inp.name: x[i : i + 1]})
        correct += int(int(np.argmax(y)) == int(labels[i]))
        inputs.append(f32_list(x[i : i + 1]))
        outputs.append(f32_list(y))
    out = model_path[: -len(".onnx")] + ".expected.json"
    write_recording(
        out,
        model_path=model_path,
        input_name=inp.name,
        output_name=outp.name,
        input_shape=[1, *input_shape],
        output_shape=[1, len(outputs[0])],
        inputs=inputs,
        outputs=outputs,
        labels=[int(v) for v in labels[:SAMPLES]],
        reference_accuracy=correct / SAMPLES,
        framework_accuracy=None,
    )
    return out


def build(name, model, input_shape, classes, reconstruct=False):
    seed_everything(SEED)
    g = torch.Generator().manual_seed(SEED)
    x = synthetic_inputs(g, TRAIN + TEST, input_shape)
    # The autoencoder's "labels" only feed ESP-PPQ's accuracy printout.
    y = np.zeros(len(x), dtype=np.int64) if reconstruct else teacher_labels(x, classes, SEED + 1)
    x_train, y_train, x_test, y_test = x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    loss = train_briefly(model, x_train, y_train, reconstruct=reconstruct)
    calib = [torch.from_numpy(x_train[i : i + 1]) for i in range(CALIBRATION)]
    out = os.path.join(ROOT, "codegen-tests", "models", f"{name}.onnx")
    ppq_acc = quantize_to_qdq(model, calib, x_test, y_test, out, "output", input_shape=(1, *input_shape))
    write_framework_json(out, f"esp-ppq simulation, target {TARGET} int8", None, ppq_acc)
    recording = record(out, x_test, y_test, input_shape)
    print(f"{name}: {params} parameters, final training loss {loss:.3f}; wrote {out}, {recording}")


def main():
    torch.manual_seed(SEED)
    build("ds_cnn_kws_esppq", DsCnn(), (1, 49, 10), 12)
    build("resnet8_esppq", ResNet8(), (3, 32, 32), 10)
    build("mobilenet_v1_vww_esppq", MobileNetV1(), (3, 96, 96), 2)
    build("fc_autoencoder_esppq", FcAutoencoder(), (640,), None, reconstruct=True)


if __name__ == "__main__":
    main()
