"""Seeded train/val/test splits and k-fold validation folds, stratified by class (classification)
or plain (regression)."""

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from tunelab.errors import DataError


def split_indices(
    labels: np.ndarray,
    val: float,
    test: float,
    seed: int,
    fold: int | None = None,
    num_folds: int | None = None,
    fixed: dict[str, np.ndarray] | None = None,
    stratify: bool = True,
) -> dict[str, np.ndarray]:
    """Index arrays for train, val and test. Splits the source fixed are kept; the test split
    never depends on the fold, and with k folds validation is fold `fold` of train + val.
    stratify: each split keeps the class shares of `labels` (class indices); else `labels`
    (a regression's targets) gives only the count."""
    fixed = fixed or {}

    def strata(rows: np.ndarray) -> np.ndarray | None:
        return labels[rows] if stratify else None

    everything = np.arange(len(labels))
    try:
        test_idx = fixed.get("test")
        rest = np.setdiff1d(everything, test_idx) if test_idx is not None else everything
        if test_idx is None:
            if not test:
                raise DataError(
                    "data.split.test is null but this source has no test files: set it, e.g. 0.15"
                )
            rest, test_idx = train_test_split(
                rest, test_size=test, random_state=seed, stratify=strata(rest)
            )
        if num_folds:
            kfold = StratifiedKFold if stratify else KFold
            folds = kfold(num_folds, shuffle=True, random_state=seed)
            train_pos, val_pos = list(folds.split(rest, strata(rest)))[fold or 0]
            train_idx, val_idx = rest[train_pos], rest[val_pos]
        elif "val" in fixed:
            val_idx = fixed["val"]
            train_idx = np.setdiff1d(rest, val_idx)
        else:
            share = val / (1.0 - test) if "test" not in fixed else val
            train_idx, val_idx = train_test_split(
                rest, test_size=share, random_state=seed, stratify=strata(rest)
            )
    except ValueError as error:  # sklearn: a class too small to stratify, too few rows
        if not stratify:
            raise DataError(f"cannot split the data ({error}): add rows") from None
        counts = np.bincount(labels)
        raise DataError(
            f"cannot split the data ({error}); the smallest class has {counts[counts > 0].min()} examples: "
            "add examples, or lower data.num_folds"
        ) from None
    return {"train": np.sort(train_idx), "val": np.sort(val_idx), "test": np.sort(test_idx)}
