"""Writes the 360-sample digits test split as a float32 .npy (N, 1, 8, 8), the input file that
`onnx2esp inspect --inputs` reads (README, "Scale policies").

    python examples/pytorch/export_digits_inputs.py examples/models/digits_test_inputs.npy
"""

import sys

import numpy as np

from digits_data import load_split


def main(path):
    _, _, x_test, _ = load_split()
    np.save(path, x_test.astype(np.float32))
    print(f"wrote {path}: {x_test.shape} float32")


if __name__ == "__main__":
    main(sys.argv[1])
