"""A keyword-spotting-shaped recurrent model from PyTorch: 49 frames of 10 MFCC-like features,
a GRU of 32 units, a dense layer to 12 classes; exported to ONNX and quantized with
power-of-two QDQ around the GRU; recorded by ONNX Runtime.

The data are synthetic (nothing can be downloaded here), and accuracy is not the point: each
of the 12 classes is a smooth random 49x10 "spectrogram" template, and a sample is its class's
template shifted by up to 4 frames, scaled, plus noise. A few epochs of training give a model
whose recurrent weights are those of a trained GRU, not random ones.

Quantization (torch's quantizers do not handle nn.GRU in a form ONNX Runtime runs as QDQ):
- the float model is exported by torch.onnx's TorchScript exporter (opset 14), which writes
  one ONNX GRU node (linear_before_reset = 1), Transposes around it for batch_first, and a Gemm;
- every weight matrix (GRU W and R, the Gemm's weight) becomes int8 at a power-of-two scale,
  2^ceil(log2(max|w| / 127)), through DequantizeLinear; biases stay float, as PyTorch's;
- the graph input, the GRU's Y_h and the logits get QuantizeLinear -> DequantizeLinear at
  2^ceil(log2(max|v| / 127)) over the calibration set (ONNX Runtime's float run of the
  training data), the power-of-two observer's rule for a symmetric int8 range.

Writes codegen-tests/models/recurrent/kws_gru_pt.onnx and its recording (32 test samples).

Usage (from the repository root): /path/to/venv/bin/python examples/pytorch/kws_gru.py
"""

import os
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from record_outputs import f32_list, reference_session, write_recording  # noqa: E402

OUT_DIR = os.path.join(ROOT, "codegen-tests", "models", "recurrent")
NAME = "kws_gru_pt"
FRAMES, FEATURES, HIDDEN, CLASSES = 49, 10, 32, 12
RECORDED = 32
EPOCHS = 10


def synthetic_keywords(rng, count):
    """Samples of 12 smooth templates, shifted in time, scaled and noisy; with labels."""
    t = np.linspace(0, 1, FRAMES)[:, None]
    f = np.linspace(0, 1, FEATURES)[None, :]
    templates = []
    shapes = np.random.default_rng(1234)  # the same 12 keywords in every set
    for _ in range(CLASSES):
        a, b, c, d = shapes.uniform(0.5, 3.0, size=4)
        p, q = shapes.uniform(0, 2 * np.pi, size=2)
        templates.append(np.sin(a * 2 * np.pi * t + p) * np.cos(b * 2 * np.pi * f + q) + 0.5 * np.sin(c * t * f * 6 + d))
    labels = rng.integers(0, CLASSES, size=count)
    x = np.empty((count, FRAMES, FEATURES), dtype=np.float32)
    for i, label in enumerate(labels):
        shifted = np.roll(templates[label], rng.integers(-4, 5), axis=0)
        x[i] = shifted * rng.uniform(0.7, 1.3) + rng.normal(0, 0.3, size=shifted.shape)
    return x, labels


class KeywordGru(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(FEATURES, HIDDEN, batch_first=True)
        self.fc = torch.nn.Linear(HIDDEN, CLASSES)

    def forward(self, x):
        _, h = self.gru(x)
        return self.fc(h[-1])


def pow2_exponent(max_abs):
    return int(np.ceil(np.log2(max(max_abs, 1e-12) / 127.0)))


def quantize_graph(model, calibration):
    """Inserts the QDQ nodes described above into the float graph, in place."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    gru = next(n for n in graph.node if n.op_type == "GRU")
    gemm = next(n for n in graph.node if n.op_type == "Gemm")

    def constant(name, value):
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    # Weights: int8 at a power-of-two scale through DequantizeLinear.
    new_nodes = []
    for node, index in [(gru, 1), (gru, 2), (gemm, 1)]:
        name = node.input[index]
        w = numpy_helper.to_array(inits[name]).astype(np.float64)
        e = pow2_exponent(np.abs(w).max())
        q = np.clip(np.round(w / 2.0**e), -127, 127).astype(np.int8)
        graph.initializer.remove(inits[name])
        qname = constant(name + "_int8", q)
        scale = constant(name + "_scale", np.float32(2.0**e))
        zero = constant(name + "_zero", np.int8(0))
        new_nodes.append(helper.make_node("DequantizeLinear", [qname, scale, zero], [name], name=name + "_dq"))

    # Activations: QuantizeLinear -> DequantizeLinear after the tensor, readers rewired.
    def qdq_after(tensor, max_abs):
        e = pow2_exponent(max_abs)
        scale = constant(tensor + "_scale", np.float32(2.0**e))
        zero = constant(tensor + "_zero", np.int8(0))
        for node in graph.node:
            for k, name in enumerate(node.input):
                if name == tensor:
                    node.input[k] = tensor + "_dq"
        for output in graph.output:
            if output.name == tensor:
                output.name = tensor + "_dq"
        return [
            helper.make_node("QuantizeLinear", [tensor, scale, zero], [tensor + "_q"], name=tensor + "_quantize"),
            helper.make_node("DequantizeLinear", [tensor + "_q", scale, zero], [tensor + "_dq"], name=tensor + "_dequantize"),
        ]

    activation_nodes = []
    for tensor, max_abs in calibration.items():
        activation_nodes += qdq_after(tensor, max_abs)
    nodes = new_nodes + activation_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def topological(model):
    """Reorders the nodes so that each comes after the producers of its inputs."""
    graph = model.graph
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(i in known or i == "" for i in n.input)]
        if not ready:
            raise RuntimeError("cycle")
        for n in ready:
            ordered.append(n)
            known.update(n.output)
            pending.remove(n)
    del graph.node[:]
    graph.node.extend(ordered)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = synthetic_keywords(rng, 2000)
    x_test, y_test = synthetic_keywords(rng, 400)
    model = KeywordGru()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x_train[batch])), torch.from_numpy(y_train[batch]))
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: loss {loss.item():.3f}")
    model.eval()
    with torch.no_grad():
        float_accuracy = float((model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())
    print(f"float accuracy {float_accuracy:.4f}")

    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, NAME + ".onnx")
    float_path = path + ".float.tmp"
    torch.onnx.export(model, torch.from_numpy(x_test[:1]), float_path, dynamo=False, opset_version=14,
                      input_names=["mfcc"], output_names=["logits"],
                      dynamic_axes={"mfcc": {1: "frames"}})
    float_model = onnx.load(float_path)
    gru = next(n for n in float_model.graph.node if n.op_type == "GRU")
    gemm = next(n for n in float_model.graph.node if n.op_type == "Gemm")
    y_h = gru.output[1]

    # Calibration: ONNX Runtime's float run of the training data, with Y_h exposed.
    probe = onnx.load(float_path)
    probe.graph.output.append(helper.make_tensor_value_info(y_h, onnx.TensorProto.FLOAT, None))
    onnx.save(probe, float_path)
    session = reference_session(float_path)
    runs = [session.run(["logits", y_h], {"mfcc": x_train[i:i + 1]}) for i in range(500)]
    logits = np.stack([r[0] for r in runs])
    hidden = np.stack([r[1] for r in runs])
    os.remove(float_path)
    calibration = {
        "mfcc": float(np.abs(x_train).max()),
        y_h: float(np.abs(hidden).max()),
        gemm.output[0]: float(np.abs(logits).max()),
    }
    quantized = quantize_graph(float_model, calibration)
    # The committed model has 49 frames; generate with --input-shape mfcc=1,N,10 for N per run.
    quantized.graph.input[0].type.tensor_type.shape.dim[1].dim_value = FRAMES
    topological(quantized)
    onnx.checker.check_model(quantized, full_check=True)
    onnx.save(quantized, path)

    session = reference_session(path)
    output_name = session.get_outputs()[0].name
    outputs = [session.run([output_name], {"mfcc": x_test[i:i + 1]})[0] for i in range(len(x_test))]
    reference_accuracy = float(np.mean([np.argmax(o) == y for o, y in zip(outputs, y_test)]))
    print(f"QDQ accuracy in ONNX Runtime {reference_accuracy:.4f}")
    write_recording(
        os.path.join(OUT_DIR, NAME + ".expected.json"),
        model_path=path,
        input_name="mfcc",
        output_name=output_name,
        input_shape=[1, FRAMES, FEATURES],
        output_shape=list(outputs[0].shape),
        inputs=[f32_list(x_test[i]) for i in range(RECORDED)],
        outputs=[f32_list(o) for o in outputs[:RECORDED]],
        labels=[int(v) for v in y_test[:RECORDED]],
        reference_accuracy=reference_accuracy,
        framework_accuracy=float_accuracy,
        extra={"producer": "PyTorch 2.15 nn.GRU, TorchScript ONNX export, power-of-two QDQ by examples/pytorch/kws_gru.py"},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
