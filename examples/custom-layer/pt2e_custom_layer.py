"""A custom layer through PyTorch 2 export: LearnableSwish as a torch.library custom op,
quantized with torchao PT2E (power-of-two observers) and exported with the dynamo exporter.

    y = x * sigmoid(beta[c] * x)        beta: one learnable float per channel

How the layer reaches ONNX as one node of its own:
- `torch.library.custom_op` makes it an opaque op, `onnx2esp_examples::learnable_swish`, that
  torch.export keeps as one call (it is not decomposed);
- `pow2_pt2e.Pow2Quantizer(custom_ops=[...])` quantizes its input and output (beta stays a float
  parameter), so it sits between a DequantizeLinear and a QuantizeLinear;
- `torch.onnx.export(..., dynamo=True, custom_translation_table={op: learnable_swish_to_onnx})`
  translates it into one node `onnx2esp.examples::LearnableSwish(X, beta)`: an op with an
  `onnx.defs.OpSchema` (the exporter needs one to type the output), called from a plain Python
  translation function;
- the float definition of that node, an onnxscript function in the same domain, is attached to
  the model afterwards as a model-local function, so that ONNX Runtime can run the model. (An
  onnxscript function used directly as the translation would be inlined: the exporter's
  opset conversion inlines every model-local function, and the custom node would be gone.)
- onnx2esp sees the custom node and implements it with the template
  `templates/onnx2esp.examples/LearnableSwish.rs.tera`.

Model: Conv2d(1, 8, 3, padding=1) -> LearnableSwish -> MaxPool2d(2) -> Flatten -> Linear(128, 10),
float training, then PT2E PTQ on the training split.

Run from the repository root, then record with ONNX Runtime:
    python examples/custom-layer/pt2e_custom_layer.py
    python examples/pytorch/record_outputs.py examples/custom-layer/models/digits_swish_pt2e.onnx
"""

import os
import sys

import onnx
import onnxscript
import torch
from onnxscript import FLOAT
from onnxscript import opset18 as op
from onnx.defs import OpSchema
from torch import nn
from torchao.quantization.pt2e import move_exported_model_to_eval
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ next to the imported ../pytorch modules
sys.path.insert(0, os.path.join(HERE, "..", "pytorch"))
from digits_data import load_split, seed_everything  # noqa: E402
from pow2_pt2e import Pow2Quantizer, export_onnx  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402
from train_digits_qat import accuracy, train  # noqa: E402

SEED = 0
DOMAIN = "onnx2esp.examples"
CHANNELS = 8
FLOAT_EPOCHS = 15
CALIBRATION_BATCH = 32
OUT = os.path.join("examples", "custom-layer", "models", "digits_swish_pt2e.onnx")


# ----------------------------------------------------------------------------
# The custom op, its gradient (for float training) and its ONNX translation
# ----------------------------------------------------------------------------


@torch.library.custom_op("onnx2esp_examples::learnable_swish", mutates_args=())
def learnable_swish(x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """y = x * sigmoid(beta[c] * x) for NCHW x and beta of shape [C]."""
    return x * torch.sigmoid(beta.view(1, -1, 1, 1) * x)


@learnable_swish.register_fake
def _(x, beta):
    return torch.empty_like(x)


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad_y):
    x, beta = ctx.saved_tensors
    b = beta.view(1, -1, 1, 1)
    s = torch.sigmoid(b * x)
    ds = s * (1.0 - s)  # d sigmoid(z) / dz
    grad_x = grad_y * (s + x * ds * b)
    grad_beta = (grad_y * x * x * ds).sum(dim=(0, 2, 3))
    return grad_x, grad_beta


learnable_swish.register_autograd(_backward, setup_context=_setup_context)

CUSTOM_OPSET = onnxscript.values.Opset(DOMAIN, 1)

# The node the translation writes: an op of DOMAIN with a schema (one float type T), so the
# exporter can type its output and keep it as one node.
LEARNABLE_SWISH_SCHEMA = OpSchema(
    "LearnableSwish",
    DOMAIN,
    1,
    inputs=[OpSchema.FormalParameter("X", "T"), OpSchema.FormalParameter("beta", "T")],
    outputs=[OpSchema.FormalParameter("Y", "T")],
    type_constraints=[("T", ["tensor(float)"], "float tensors")],
)
LEARNABLE_SWISH_NODE = onnxscript.values.Op(CUSTOM_OPSET, "LearnableSwish", LEARNABLE_SWISH_SCHEMA)


def learnable_swish_to_onnx(x, beta):
    """The dynamo exporter's translation of the custom op: one onnx2esp.examples node."""
    return LEARNABLE_SWISH_NODE(x, beta)


# The node's float definition, attached to the model as a model-local function so that ONNX
# Runtime can run it (and record the reference outputs); onnx2esp implements the node with its
# template instead.
@onnxscript.script(CUSTOM_OPSET, default_opset=op)
def LearnableSwish(X: FLOAT, beta: FLOAT) -> FLOAT:
    b = op.Reshape(beta, op.Constant(value_ints=[1, -1, 1, 1]))
    return op.Mul(X, op.Sigmoid(op.Mul(b, X)))


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------


class DigitsSwishNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, CHANNELS, 3, padding=1)
        self.beta = nn.Parameter(torch.ones(CHANNELS))
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(CHANNELS * 4 * 4, 10)

    def forward(self, x):
        x = learnable_swish(self.conv(x), self.beta)
        return self.fc(torch.flatten(self.pool(x), 1))


def check_custom_node(path):
    """The exported graph holds exactly one LearnableSwish node in DOMAIN, whose beta is a
    float initializer, and the model-local function ONNX Runtime runs for it."""
    model = onnx.load(path)
    nodes = [n for n in model.graph.node if n.domain == DOMAIN]
    assert [n.op_type for n in nodes] == ["LearnableSwish"], nodes
    initializers = {t.name for t in model.graph.initializer}
    assert nodes[0].input[1] in initializers, f"beta {nodes[0].input[1]} is not an initializer"
    functions = [(f.domain, f.name) for f in model.functions]
    assert (DOMAIN, "LearnableSwish") in functions, functions


def main():
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()

    model = DigitsSwishNet()
    print("float training")
    train(model, x_train, y_train, epochs=FLOAT_EPOCHS, lr=1e-2)
    float_acc = accuracy(model, x_test, y_test)
    print(f"PyTorch float accuracy (test): {float_acc:.4f}")

    example = torch.from_numpy(x_train[:CALIBRATION_BATCH])
    batch = {0: torch.export.Dim("batch")}
    captured = torch.export.export(model.eval(), (example,), dynamic_shapes=(batch,)).module()
    quantizer = Pow2Quantizer(custom_ops=[torch.ops.onnx2esp_examples.learnable_swish.default])
    prepared = prepare_pt2e(captured, quantizer)
    with torch.no_grad():
        images = torch.from_numpy(x_train)
        for i in range(0, len(images), CALIBRATION_BATCH):
            prepared(images[i : i + CALIBRATION_BATCH])
    quantized = move_exported_model_to_eval(convert_pt2e(prepared))
    with torch.no_grad():
        pred = quantized(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    ptq_acc = float((pred == y_test).mean())
    print(f"PyTorch PT2E quantized accuracy after PTQ (test): {ptq_acc:.4f}")

    table = {torch.ops.onnx2esp_examples.learnable_swish.default: learnable_swish_to_onnx}
    function = LearnableSwish.to_function_proto()
    export_onnx(quantized, torch.from_numpy(x_test[:1]), OUT, custom_translation_table=table, functions=[function])
    check_custom_node(OUT)
    print(f"wrote {OUT}")
    side = write_framework_json(
        OUT, f"torch {torch.__version__} PT2E (torchao, PTQ, power-of-two observers)", float_acc, ptq_acc
    )
    print(f"wrote {side}")


if __name__ == "__main__":
    main()
