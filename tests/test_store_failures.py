"""A store that cannot work stops the job within seconds, before training, in one line that
names the URI and the reason (MLflow alone retries for minutes)."""

import time

import pytest

from tests.conftest import TINY, run_entry
from tunelab.tracking.reachable import store_problem


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://127.0.0.1:1", "connection refused: nothing listens at 127.0.0.1:1"),
        ("http://nohost.invalid:5000", "host nohost.invalid not found"),
        (
            "sqlite:////sys/tunelab-missing/mlflow.db",
            "the folder /sys/tunelab-missing does not exist",
        ),
        ("sqlite:////sys/mlflow.db", "cannot create the store in /sys: permission denied"),
    ],
)
def test_store_problems_are_named_in_seconds(uri: str, reason: str) -> None:
    start = time.monotonic()
    assert store_problem(uri) == reason
    assert time.monotonic() - start < 6


def test_a_usable_store_has_no_problem(tmp_path) -> None:
    assert store_problem(f"sqlite:///{tmp_path}/mlflow.db") is None
    assert store_problem("postgresql://user@host/db") is None  # MLflow's own message


@pytest.mark.parametrize("uri", ["http://user:hunter2xyz@127.0.0.1:1", "sqlite:////sys/mlflow.db"])
def test_train_stops_before_training_with_one_line(tmp_path, uri: str) -> None:
    start = time.monotonic()
    result = run_entry([*TINY, f"tracking.uri={uri}"], tmp_path, check=False)
    assert time.monotonic() - start < 15
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("tunelab: MLflow could not start the run in tracking.uri="), last
    assert "hunter2xyz" not in result.stdout + result.stderr
    assert "Epoch" not in result.stdout and not list(tmp_path.glob("outputs/**/*.ckpt"))
