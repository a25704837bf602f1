"""Writes reference/digits_swish_reference.onnx: digits_swish.onnx with its custom
LearnableSwish node replaced by the standard ops of its float definition
(SEMANTICS.md), Y = X * Sigmoid(beta[c] * X), writing the same tensor names. Any ONNX
engine runs it; `onnx2esp compare --reference` uses it to trace the custom-layer model
layer by layer."""

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "models" / "digits_swish.onnx"
TARGET = HERE / "reference" / "digits_swish_reference.onnx"


def main():
    model = onnx.load(SOURCE)
    graph = model.graph
    [index] = [i for i, n in enumerate(graph.node) if n.op_type == "LearnableSwish"]
    node = graph.node[index]
    x, beta_name = node.input
    [y] = node.output
    [beta] = [t for t in graph.initializer if t.name == beta_name]
    slopes = numpy_helper.to_array(beta).astype(np.float32)
    # One slope per channel of an NCHW tensor: [C, 1, 1] broadcasts over H and W.
    per_channel = numpy_helper.from_array(slopes.reshape(-1, 1, 1), f"{node.name}/beta_c11")
    graph.initializer.remove(beta)
    graph.initializer.append(per_channel)
    scaled, gate = f"{node.name}/scaled", f"{node.name}/gate"
    replacement = [
        helper.make_node("Mul", [x, per_channel.name], [scaled], name=f"{node.name}/Mul_beta"),
        helper.make_node("Sigmoid", [scaled], [gate], name=f"{node.name}/Sigmoid"),
        helper.make_node("Mul", [x, gate], [y], name=f"{node.name}/Mul_x"),
    ]
    del graph.node[index]
    for offset, new in enumerate(replacement):
        graph.node.insert(index + offset, new)
    kept = [o for o in model.opset_import if o.domain == "onnx2esp.examples"]
    for o in kept:
        model.opset_import.remove(o)
    onnx.checker.check_model(model)
    TARGET.parent.mkdir(exist_ok=True)
    onnx.save(model, TARGET)
    print(f"wrote {TARGET.relative_to(HERE.parent.parent)}")
    check_against_recording()


def check_against_recording():
    """ONNX Runtime on the reference against the custom model's recording (PyTorch's forward):
    every element must agree, or the reference is not the layer's float definition."""
    import json

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(TARGET), options)
    recording = json.loads((HERE / "models" / "digits_swish.expected.json").read_text())
    x = np.array(recording["inputs"], dtype=np.float32).reshape(-1, 1, 8, 8)
    name = session.get_inputs()[0].name
    y = np.concatenate([session.run(None, {name: x[i : i + 1]})[0] for i in range(len(x))])
    expected = np.array(recording["outputs"], dtype=np.float32).reshape(y.shape)
    equal = int((y == expected).sum())
    print(f"ONNX Runtime on the reference vs the recording: {equal}/{expected.size} elements equal")
    assert equal == expected.size


if __name__ == "__main__":
    main()
