"""PT2E quantization-aware training (torchao) of the residual CNN with power-of-two fake
quantization, exported with the dynamo exporter.

The float ResidualNet (residual_cnn.py) is captured with torch.export, prepared for QAT by
pow2_pt2e.Pow2Quantizer(is_qat=True) (int8 activations, per-channel int8 weights, float
biases, every scale a power of two), fine-tuned on the training split, converted, and written
with `torch.onnx.export(..., dynamo=True)` at opset 18.

Run from the repository root, then record with record_outputs.py:
    python examples/pytorch/qat_residual_pt2e.py
Writes codegen-tests/models/residual_pt2e_qat.onnx and residual_pt2e_qat.framework.json.
"""

import os
import sys

import torch
from torchao.quantization.pt2e import allow_exported_model_train_eval, move_exported_model_to_eval
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split, seed_everything  # noqa: E402
from pow2_pt2e import Pow2Quantizer, export_onnx  # noqa: E402
from record_outputs import write_framework_json  # noqa: E402
from residual_cnn import train_float  # noqa: E402
from train_digits_qat import accuracy, train  # noqa: E402

SEED = 0
OUT = "codegen-tests/models/residual_pt2e_qat.onnx"
QAT_EPOCHS = 8
QAT_LR = 1e-3


def main():
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()
    model, float_acc = train_float(x_train, y_train, x_test, y_test)

    example = torch.from_numpy(x_train[:32])
    batch = {0: torch.export.Dim("batch")}
    captured = torch.export.export(model.train(), (example,), dynamic_shapes=(batch,)).module()
    prepared = prepare_qat_pt2e(captured, Pow2Quantizer(is_qat=True))
    # train() and accuracy() switch between train and eval mode, which a captured graph
    # does not do by itself.
    allow_exported_model_train_eval(prepared)
    print("QAT fine-tuning")
    train(prepared, x_train, y_train, epochs=QAT_EPOCHS, lr=QAT_LR)
    qat_fake_quant_acc = accuracy(prepared, x_test, y_test)
    print(f"PyTorch fake-quant accuracy after QAT (test): {qat_fake_quant_acc:.4f}")

    quantized = move_exported_model_to_eval(convert_pt2e(prepared))
    with torch.no_grad():
        pred = quantized(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    qat_acc = float((pred == y_test).mean())
    print(f"PyTorch PT2E quantized accuracy after QAT (test): {qat_acc:.4f}")

    export_onnx(quantized, torch.from_numpy(x_test[:1]), OUT)
    print(f"wrote {OUT}")
    side = write_framework_json(
        OUT, f"torch {torch.__version__} PT2E (torchao, QAT, power-of-two fake quantization)", float_acc, qat_acc
    )
    print(f"wrote {side}")


if __name__ == "__main__":
    main()
