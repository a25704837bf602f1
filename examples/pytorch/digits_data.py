"""The scikit-learn "digits" data set (bundled with scikit-learn, no download).

1797 grey-scale 8x8 images of hand-written digits with pixel values 0..16.
Pixels are scaled by 1/16 to [0, 1] float32 and laid out as NCHW (N, 1, 8, 8).
The train/test split is fixed (stratified, random_state=0) so that every
script sees exactly the same samples.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

TEST_SIZE = 0.2
SPLIT_SEED = 0


def seed_everything(seed):
    """Seeds torch and numpy and makes torch single-threaded and deterministic, so that every
    fixture script gives byte-identical files from run to run."""
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def load_split():
    """Return (x_train, y_train, x_test, y_test).

    x_* are float32 arrays of shape (N, 1, 8, 8) with values in [0, 1];
    y_* are int64 arrays of digit labels 0..9.
    """
    digits = load_digits()
    x = (digits.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=y
    )
    return (
        np.ascontiguousarray(x_train),
        y_train,
        np.ascontiguousarray(x_test),
        y_test,
    )
