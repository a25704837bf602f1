"""Record ONNX Runtime reference outputs of a model on the digits test split.

For MODEL.onnx this writes MODEL.expected.json (compact JSON) with the test
inputs (NCHW, flattened), ORT's outputs (flattened), the true labels and
accuracies. ORT runs on the CPU with graph optimizations disabled and one
thread, one sample at a time (batch 1), so the outputs are those of the plain
QuantizeLinear/DequantizeLinear graph.

Floats are written as Python floats made from float32 values; the JSON text
of such a float parses back to exactly the same f32.

The framework accuracy (PyTorch fake-quant or ESP-PPQ simulation) is taken
from --framework-accuracy, or else from MODEL.framework.json if the generating
script wrote one, or else null.

Usage (from the repository root):
    python examples/pytorch/record_outputs.py codegen-tests/models/digits_qat.onnx
"""

import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split  # noqa: E402


def write_framework_json(model_path, framework, float_accuracy, framework_accuracy):
    """Writes MODEL.framework.json beside a model: what produced it and its accuracies, which
    main() below copies into the recording as framework_accuracy."""
    side = os.path.splitext(model_path)[0] + ".framework.json"
    with open(side, "w") as f:
        json.dump(
            {
                "framework": framework,
                "float_accuracy": float_accuracy,
                "framework_accuracy": framework_accuracy,
            },
            f,
            indent=1,
        )
        f.write("\n")
    return side


def f32_list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def reference_session(model_path):
    """ONNX Runtime on the CPU, graph optimizations disabled, one thread: the plain QDQ graph."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])


def write_recording(
    out_path,
    *,
    model_path,
    input_name,
    output_name,
    input_shape,
    output_shape,
    inputs,
    outputs,
    labels,
    reference_accuracy,
    framework_accuracy,
    extra=None,
):
    """Writes the recording schema the Rust tests read (codegen-tests/tests/common/mod.rs).

    `inputs` and `outputs` hold one flat f32 list per sample; `extra` adds keys."""
    doc = {
        "model": os.path.basename(model_path),
        "reference": f"onnxruntime {ort.__version__}, graph optimizations disabled",
        "input_name": input_name,
        "output_name": output_name,
        "input_shape": input_shape,
        "output_shape": output_shape,
        "labels": labels,
        "reference_accuracy": reference_accuracy,
        "framework_accuracy": framework_accuracy,
        "inputs": inputs,
        "outputs": outputs,
    }
    doc.update(extra or {})
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="path of the .onnx model")
    ap.add_argument("--framework-accuracy", type=float, default=None)
    ap.add_argument("--out", default=None, help="output path (default: MODEL without .onnx + .expected.json)")
    args = ap.parse_args()

    base = args.model[: -len(".onnx")] if args.model.endswith(".onnx") else args.model
    out_path = args.out or base + ".expected.json"

    framework_accuracy = args.framework_accuracy
    side = base + ".framework.json"
    if framework_accuracy is None and os.path.exists(side):
        with open(side) as f:
            framework_accuracy = json.load(f).get("framework_accuracy")

    sess = reference_session(args.model)
    (inp,) = sess.get_inputs()
    (outp,) = sess.get_outputs()
    assert list(inp.shape) == [1, 1, 8, 8], f"unexpected input shape {inp.shape}"

    _, _, x_test, y_test = load_split()
    inputs, outputs, correct = [], [], 0
    output_shape = None
    for i in range(len(x_test)):
        x = x_test[i : i + 1]
        (y,) = sess.run([outp.name], {inp.name: x})
        y = np.asarray(y, dtype=np.float32)
        output_shape = list(y.shape)
        correct += int(int(np.argmax(y.reshape(-1))) == int(y_test[i]))
        inputs.append(f32_list(x))
        outputs.append(f32_list(y))
    acc = correct / len(x_test)

    write_recording(
        out_path,
        model_path=args.model,
        input_name=inp.name,
        output_name=outp.name,
        input_shape=[1, 1, 8, 8],
        output_shape=output_shape,
        inputs=inputs,
        outputs=outputs,
        labels=[int(v) for v in y_test],
        reference_accuracy=acc,
        framework_accuracy=framework_accuracy,
    )
    print(
        f"{args.model}: ORT accuracy {acc:.4f} on {len(x_test)} test samples"
        f" (framework accuracy: {framework_accuracy}); wrote {out_path}"
    )


if __name__ == "__main__":
    main()
