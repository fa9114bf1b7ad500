"""A store that cannot work stops the job within seconds, before training, in one line that
names the URI and the reason (MLflow alone retries for minutes)."""

import pytest

from tests.conftest import TINY, run_in_process
from tunelab.tracking.reachable import store_problem

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it


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
def test_store_problems_are_named_without_mlflow(uri: str, reason: str) -> None:
    # (How fast is measured, not asserted: see the closing note of the issue.)
    assert store_problem(uri) == reason


def test_a_usable_store_has_no_problem(tmp_path) -> None:
    assert store_problem(f"sqlite:///{tmp_path}/mlflow.db") is None
    assert store_problem("databricks") is None  # other stores: MLflow's own message


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://user:hunter2xyz@127.0.0.1:1", "connection refused"),
        ("sqlite:////sys/mlflow.db", "cannot create the store in /sys"),
    ],
)
def test_train_stops_before_training_with_one_line(tmp_path, uri: str, reason: str) -> None:
    # In this process: the check is the job's, not the process's (no writer started).
    result = run_in_process([*TINY, f"tracking.uri={uri}"], tmp_path, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("tunelab: MLflow could not start the run in tracking.uri="), last
    assert reason in last  # found by tunelab's check, not after MLflow's minutes of retries
    assert "hunter2xyz" not in result.stdout + result.stderr
    assert "Epoch" not in result.stdout and not list(tmp_path.glob("outputs/**/*.ckpt"))


def test_two_sweeps_started_together_on_a_new_store_keep_apart(tmp_path) -> None:
    """Same second, same store, created by neither yet: two parents, each with its own
    children, two sweep folders, nothing overwritten."""
    import os
    import subprocess
    import sys

    from mlflow import MlflowClient

    from tests.conftest import ROOT, store_uri

    env = {**os.environ, "TUNELAB_ROOT": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        *TINY,
        "model=mlp",
        "optimizer.lr=1e-2,1e-3",
    ]
    sweeps = [
        subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for sweep in sweeps:
        out, err = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, err[-3000:]
        assert "2 trials: 2 finished" in out, out[-1500:] + err[-3000:]
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 2 and len(runs) == 6
    for parent in parents:
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == 2
    assert len(list(tmp_path.glob("multirun/*/*/"))) == 2
