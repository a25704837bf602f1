#!/usr/bin/env bash
# Regenerate the custom-layer (LearnableSwish) example models and their reference outputs.
# Run from anywhere; paths are resolved against the repository root.
# Override the interpreter with PYTHON=/path/to/python.
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
export PYTHONHASHSEED=0
export PYTHONDONTWRITEBYTECODE=1

# QAT digits model with the custom layer, the single-layer model, and the
# reference outputs (PyTorch fake-quant for the whole model, the integer
# reference of examples/custom-layer/SEMANTICS.md for the single layer).
"$PYTHON" examples/custom-layer/train_custom_layer.py
# The same model with the custom layer in standard ops, for `compare` and `inspect --reference`.
"$PYTHON" examples/custom-layer/make_reference.py
