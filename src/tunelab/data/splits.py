"""Seeded, stratified train/val/test splits and k-fold validation folds."""

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split


def split_indices(
    labels: np.ndarray,
    val: float,
    test: float,
    seed: int,
    fold: int | None = None,
    num_folds: int | None = None,
    fixed_test: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Index arrays for train, val and test; the test split never depends on the fold."""
    everything = np.arange(len(labels))
    if fixed_test is not None:
        test_idx = np.sort(fixed_test)
        dev_idx = np.setdiff1d(everything, test_idx)
    else:
        dev_idx, test_idx = train_test_split(
            everything, test_size=test, random_state=seed, stratify=labels
        )
    if num_folds:
        folds = StratifiedKFold(num_folds, shuffle=True, random_state=seed)
        train_pos, val_pos = list(folds.split(dev_idx, labels[dev_idx]))[fold]
        train_idx, val_idx = dev_idx[train_pos], dev_idx[val_pos]
    else:
        train_idx, val_idx = train_test_split(
            dev_idx, test_size=val / (1.0 - test), random_state=seed, stratify=labels[dev_idx]
        )
    return {"train": np.sort(train_idx), "val": np.sort(val_idx), "test": np.sort(test_idx)}
