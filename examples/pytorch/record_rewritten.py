"""Record ONNX Runtime on the models `onnx2esp rewrite` writes for the snapped fixtures.

`--scales snap` changes a model's arithmetic (power-of-two scales, requantized weights and
biases), so a module generated under it cannot be compared bit for bit with the original
model; it can with the rewritten one, which `onnx2esp rewrite` writes back to ONNX. For each
(fixture, snap rule) below this runs

    onnx2esp rewrite codegen-tests/models/ort/NAME.onnx --scales snap --snap RULE \
        -o codegen-tests/models/ort/rewritten/MODULE.onnx

and records ONNX Runtime (graph optimizations off, one thread, batch 1) on the digits test
split into codegen-tests/models/ort/rewritten/MODULE.expected.json, the module being the one
codegen-tests/build.rs generates under the same policy.

Run from the repository root after `cargo build` (it uses target/debug/onnx2esp):
    python examples/pytorch/record_rewritten.py
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record_outputs  # noqa: E402

ONNX2ESP = "target/debug/onnx2esp"
SOURCE_DIR = "codegen-tests/models/ort"
OUT_DIR = "codegen-tests/models/ort/rewritten"

# (fixture, snap rule, module name in codegen-tests/build.rs)
MODULES = [
    ("digits_ort_qdq", "nearest", "digits_ort_qdq_snap"),
    ("digits_ort_qdq", "ceil", "digits_ort_qdq_ceil"),
    ("digits_ort_perchannel", "nearest", "digits_ort_perchannel_snap"),
    ("digits_ort_perchannel", "ceil", "digits_ort_perchannel_ceil"),
    ("digits_ort_qoperator", "nearest", "digits_ort_qoperator_snap"),
    ("digits_ort_uint8", "nearest", "digits_ort_uint8_snap"),
    ("digits_ort_int16", "nearest", "digits_ort_int16_snap"),
    ("mlp_ort_flatten", "nearest", "mlp_ort_flatten_snap"),
]


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for fixture, rule, module in MODULES:
        source = os.path.join(SOURCE_DIR, f"{fixture}.onnx")
        rewritten = os.path.join(OUT_DIR, f"{module}.onnx")
        subprocess.run(
            [ONNX2ESP, "rewrite", source, "--scales", "snap", "--snap", rule, "-o", rewritten],
            check=True,
        )
        sys.argv = [sys.argv[0], rewritten]
        record_outputs.main()


if __name__ == "__main__":
    main()
