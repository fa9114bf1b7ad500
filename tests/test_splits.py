"""tunelab's train/test cut draws exactly what sklearn's train_test_split draws, so a run's
split stays what its seed recorded (tunelab.data.splits writes it out to skip sklearn's import)."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split as sklearn_split

from tunelab.data.splits import train_test_split


def cases() -> list[tuple[int, int, float, int]]:
    """(rows, classes, share, seed): shares that round up, unbalanced and tied classes."""
    return [
        (rows, classes, share, seed)
        for rows, classes in ((20, 2), (97, 3), (600, 10), (1001, 7), (45, 15))
        for share in (0.1, 0.15, 0.2, 1 / 3, 0.5)
        for seed in (0, 7, 12345)
    ]


@pytest.mark.parametrize("stratified", [True, False])
def test_the_cut_is_sklearns_index_for_index(stratified: bool) -> None:
    checked = 0
    for rows, classes, share, seed in cases():
        draw = np.random.default_rng(rows + seed)
        labels = np.sort(draw.integers(0, classes, rows))  # sorted: classes unevenly sized
        if np.bincount(labels).min() < 2 or min(share * rows, (1 - share) * rows) < classes:
            continue  # sklearn refuses these; the refusals are tested below
        ids = draw.permutation(rows * 3)[:rows]  # row ids that are not positions
        strata = labels if stratified else None
        expected = sklearn_split(ids, test_size=share, random_state=seed, stratify=strata)
        got = train_test_split(ids, share, seed, strata)
        assert [a.tolist() for a in got] == [e.tolist() for e in expected], (rows, share, seed)
        checked += 1
    assert checked > 40


def test_refusals_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"classes \[2\] have only 1 member"):
        train_test_split(np.arange(7), 0.3, 0, np.array([0, 0, 0, 1, 1, 1, 2]))
    with pytest.raises(ValueError, match="cannot hold all 3 classes"):
        train_test_split(np.arange(9), 0.2, 0, np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]))
    with pytest.raises(ValueError, match="leaves a split empty"):
        train_test_split(np.arange(9), 0.0, 0)
