"""Seeded train/val/test splits and k-fold validation folds, stratified by class (classification)
or plain (regression)."""

import math

import numpy as np

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
            rest, test_idx = train_test_split(rest, test, seed, strata(rest))
        if num_folds:
            from sklearn.model_selection import KFold, StratifiedKFold

            kfold = StratifiedKFold if stratify else KFold
            folds = kfold(num_folds, shuffle=True, random_state=seed)
            train_pos, val_pos = list(folds.split(rest, strata(rest)))[fold or 0]
            train_idx, val_idx = rest[train_pos], rest[val_pos]
        elif "val" in fixed:
            val_idx = fixed["val"]
            train_idx = np.setdiff1d(rest, val_idx)
        else:
            share = val / (1.0 - test) if "test" not in fixed else val
            train_idx, val_idx = train_test_split(rest, share, seed, strata(rest))
    except ValueError as error:  # a class too small to stratify, too few rows
        if not stratify:
            raise DataError(f"cannot split the data ({error}): add rows") from None
        counts = np.bincount(labels)
        raise DataError(
            f"cannot split the data ({error}); the smallest class has {counts[counts > 0].min()} examples: "
            "add examples, or lower data.num_folds"
        ) from None
    return {"train": np.sort(train_idx), "val": np.sort(val_idx), "test": np.sort(test_idx)}


def train_test_split(
    rows: np.ndarray, test_share: float, seed: int, strata: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`rows` shuffled and cut in two, as sklearn's `train_test_split(rows, test_size=test_share,
    random_state=seed, stratify=strata)` cuts them, index for index (tests/test_splits.py).

    Written out because importing sklearn.model_selection imports scipy.stats (sklearn.utils.
    fixes): 0.5 s of a run whose data is not sklearn's (measured, docs/performance.md). The
    same draws from the same RandomState keep every recorded run's split reproducible.
    """
    n_test = math.ceil(test_share * len(rows))
    n_train = len(rows) - n_test
    if not 0 < test_share < 1 or n_train == 0:
        raise ValueError(f"a share of {test_share} of {len(rows)} rows leaves a split empty")
    rng = np.random.RandomState(seed)
    if strata is None:  # sklearn's ShuffleSplit
        order = rng.permutation(len(rows))
        return rows[order[n_test:]], rows[order[:n_test]]
    # sklearn's StratifiedShuffleSplit: each class's rows shuffled, cut by its share
    classes, members, counts = np.unique(strata, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"classes {classes[counts < 2].tolist()} have only 1 member")
    if min(n_train, n_test) < len(classes):
        raise ValueError(f"{min(n_train, n_test)} rows cannot hold all {len(classes)} classes")
    by_class = np.split(np.argsort(members, kind="stable"), np.cumsum(counts)[:-1])
    train_counts = _approximate_mode(counts, n_train, rng)
    test_counts = _approximate_mode(counts - train_counts, n_test, rng)
    train, test = [], []
    shares = zip(by_class, counts, train_counts, test_counts, strict=True)
    for rows_of_class, count, n_i, t_i in shares:
        shuffled = rows_of_class[rng.permutation(count)]
        train.append(shuffled[:n_i])
        test.append(shuffled[n_i : n_i + t_i])
    return rows[rng.permutation(np.concatenate(train))], rows[rng.permutation(np.concatenate(test))]


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """sklearn.utils.extmath._approximate_mode: `draws` shared out in proportion to `counts`,
    the rows left over going to the largest remainders, ties drawn at random."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    remainder = continuous - floored
    for value in np.sort(np.unique(remainder))[::-1]:
        if need <= 0:
            break
        (tied,) = np.where(remainder == value)
        add = min(len(tied), need)
        floored[rng.choice(tied, size=add, replace=False)] += 1
        need -= add
    return floored.astype(int)
