"""scikit-learn's bundled 8x8 digits: the offline default."""

import torch
from sklearn.datasets import load_digits as sklearn_digits

from tunelab.data.labeled import LabeledData


def load_digits() -> LabeledData:
    bunch = sklearn_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.int64)
    classes = [str(c) for c in bunch.target_names]
    return LabeledData("digits", x, y, classes, raw={"scale": 16.0})  # sklearn's pixels: 0..16
