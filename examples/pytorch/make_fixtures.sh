#!/usr/bin/env bash
# Regenerate the ONNX fixtures and their ONNX Runtime reference outputs.
# Run from anywhere; paths are resolved against the repository root.
# Override the interpreter with PYTHON=/path/to/python.
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
export PYTHONHASHSEED=0
export PYTHONDONTWRITEBYTECODE=1

# 1. PyTorch QAT with power-of-two observers -> examples/models/digits.onnx
"$PYTHON" examples/pytorch/train_digits_qat.py

# 2. Test-fixture copy of the default model.
cp examples/models/digits.onnx codegen-tests/models/digits_qat.onnx
cp examples/models/digits.framework.json codegen-tests/models/digits_qat.framework.json

# 3. Float CNN quantized by ESP-PPQ (esp32s3, int8) -> codegen-tests/models/digits_esppq.onnx
"$PYTHON" examples/pytorch/quantize_digits_esppq.py

# 4. ONNX Runtime reference outputs on the digits test split.
"$PYTHON" examples/pytorch/record_outputs.py codegen-tests/models/digits_qat.onnx
"$PYTHON" examples/pytorch/record_outputs.py codegen-tests/models/digits_esppq.onnx

# 5. Single-op QDQ fixtures and their recordings -> codegen-tests/models/ops/
"$PYTHON" examples/ops/make_op_fixtures.py

# 6. Whole-model ESP-PPQ fixtures (residual CNN, 1-D keyword spotting) and their recordings.
"$PYTHON" examples/ops/quantize_whole_models_esppq.py
"$PYTHON" examples/pytorch/record_outputs.py codegen-tests/models/residual_cnn_esppq.onnx
"$PYTHON" examples/pytorch/record_outputs.py codegen-tests/models/kws1d_esppq.onnx

# 7. More producers: eager PTQ with power-of-two observers, and ONNX Runtime's
#    quantize_static (QDQ symmetric int8, QOperator, per-channel, asymmetric uint8).
"$PYTHON" examples/pytorch/ptq_digits_pow2.py
"$PYTHON" examples/pytorch/record_outputs.py codegen-tests/models/digits_ptq.onnx
"$PYTHON" examples/pytorch/quantize_digits_ort.py
for variant in qdq qoperator perchannel uint8 int16; do
  "$PYTHON" examples/pytorch/record_outputs.py codegen-tests/models/ort/digits_ort_$variant.onnx
done

# 8. The digits test split as .npy, the input file of `onnx2esp inspect --inputs`.
"$PYTHON" examples/pytorch/export_digits_inputs.py examples/models/digits_test_inputs.npy

# 9. PT2E (torchao) with the power-of-two quantizer, exported by the dynamo exporter (opset 18):
#    the residual CNN after PTQ and after QAT, and the custom-layer model (LearnableSwish as a
#    torch.library custom op), each with its ONNX Runtime recording.
for variant in ptq qat; do
  "$PYTHON" examples/pytorch/${variant}_residual_pt2e.py
  "$PYTHON" examples/pytorch/record_outputs.py codegen-tests/models/residual_pt2e_$variant.onnx
done
"$PYTHON" examples/custom-layer/pt2e_custom_layer.py
"$PYTHON" examples/pytorch/record_outputs.py examples/custom-layer/models/digits_swish_pt2e.onnx

# 10. LSTM and GRU: the onnx.helper fixtures and the PyTorch keyword spotter (nn.GRU), each
#     recorded by ONNX Runtime.
"$PYTHON" examples/ops/make_recurrent_fixtures.py
"$PYTHON" examples/pytorch/kws_gru.py
