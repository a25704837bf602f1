"""PT2E post-training quantization (torchao) of the residual CNN with power-of-two observers,
exported with the dynamo exporter.

The float ResidualNet (residual_cnn.py) is captured with torch.export, annotated by
pow2_pt2e.Pow2Quantizer (int8 activations, per-channel int8 weights, float biases),
calibrated on the training split (min/max), converted, and written with
`torch.onnx.export(..., dynamo=True)` at opset 18.

Run from the repository root, then record with record_outputs.py:
    python examples/pytorch/ptq_residual_pt2e.py
Writes codegen-tests/models/residual_pt2e_ptq.onnx and residual_pt2e_ptq.framework.json.
"""

import os
import sys

import torch
from torchao.quantization.pt2e import move_exported_model_to_eval
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split, seed_everything  # noqa: E402
from pow2_pt2e import Pow2Quantizer, export_onnx  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402
from residual_cnn import train_float  # noqa: E402

SEED = 0
OUT = "codegen-tests/models/residual_pt2e_ptq.onnx"
CALIBRATION_BATCH = 32


@torch.no_grad()
def quantized_accuracy(model, x, y):
    pred = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    return float((pred == y).mean())


def main():
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()
    model, float_acc = train_float(x_train, y_train, x_test, y_test)

    example = torch.from_numpy(x_train[:CALIBRATION_BATCH])
    # Any batch size for calibration and evaluation; the ONNX export below is at batch 1.
    batch = {0: torch.export.Dim("batch")}
    captured = torch.export.export(model, (example,), dynamic_shapes=(batch,)).module()
    prepared = prepare_pt2e(captured, Pow2Quantizer())
    with torch.no_grad():
        images = torch.from_numpy(x_train)
        for i in range(0, len(images), CALIBRATION_BATCH):
            prepared(images[i : i + CALIBRATION_BATCH])
    quantized = move_exported_model_to_eval(convert_pt2e(prepared))
    ptq_acc = quantized_accuracy(quantized, x_test, y_test)
    print(f"PyTorch PT2E quantized accuracy after PTQ (test): {ptq_acc:.4f}")

    export_onnx(quantized, torch.from_numpy(x_test[:1]), OUT)
    print(f"wrote {OUT}")
    side = write_framework_json(
        OUT, f"torch {torch.__version__} PT2E (torchao, PTQ, power-of-two observers)", float_acc, ptq_acc
    )
    print(f"wrote {side}")


if __name__ == "__main__":
    main()
