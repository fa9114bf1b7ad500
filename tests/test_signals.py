"""SIGTERM (a scheduler pre-empting the job, `kill`) stops a run or a sweep like Ctrl-C: runs end
KILLED saying which signal, the interrupted state is checkpointed, the exit code is 128 + 15."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, store_uri

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

LONG = [
    "model=mlp",
    "model.hidden_dim=16",
    "print_config=false",
    "callbacks.progress_bar=null",
    "callbacks.early_stopping=null",
    "trainer.max_epochs=1000",
    "tracking.experiment=signals",
    "tracking.flush_seconds=0",
]


def start(args: list[str], root: Path) -> subprocess.Popen:
    env = {**os.environ, "TUNELAB_ROOT": str(root)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_training(root: Path) -> None:
    """Until a run has logged a training loss. The store is opened only once a checkpoint
    exists: the run had started then, so its process had created the store's tables (a
    client opening a store that another process is creating races its migrations)."""
    from mlflow import MlflowClient

    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(1)
        if not list(root.glob("**/checkpoints/*.ckpt")):
            continue
        client = MlflowClient(store_uri(root))
        experiment = client.get_experiment_by_name("signals")
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
        if any("train/loss" in r.data.metrics for r in runs):
            return
    raise AssertionError("no run started training")


# A single run stopped by SIGTERM: tests/test_resume.py (then resumed).
@pytest.mark.parametrize("sweep", [True], ids=["sweep"])
def test_sigterm_ends_runs_killed_with_the_signal_and_exits_143(tmp_path, sweep) -> None:
    from mlflow import MlflowClient

    from tunelab.inference.checkpoint import load_model

    args = ["-m", *LONG, "optimizer.lr=1e-3,1e-4"] if sweep else LONG
    process = start(args, tmp_path)
    wait_until_training(tmp_path)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM, process.stderr.read()[-3000:]
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("signals").experiment_id])
    assert len(runs) == (2 if sweep else 1)  # a sweep starts no trial after the signal
    for run in runs:
        assert run.info.status == "KILLED"
        assert run.data.tags["error"].startswith("SIGTERM"), run.data.tags["error"]
    (interrupted,) = tmp_path.glob("**/checkpoints/interrupted.ckpt")
    assert load_model(interrupted).classes == [str(c) for c in range(10)]


def test_a_killed_sweep_controller_leaves_no_run_running_for_good(tmp_path) -> None:
    """kill -9 of the sweep's process: the trial's writer ends the child KILLED, and the
    documented one-line command ends the parent."""
    from mlflow import MlflowClient

    process = start(["-m", *LONG, "optimizer.lr=1e-3,1e-4"], tmp_path)
    wait_until_training(tmp_path)
    process.kill()
    process.wait(timeout=30)
    client = MlflowClient(store_uri(tmp_path))
    experiment = client.get_experiment_by_name("signals").experiment_id
    deadline = time.time() + 30  # the writer sees its pipe close and ends the child
    while time.time() < deadline:
        statuses = {
            ("child" if "mlflow.parentRunId" in r.data.tags else "parent"): r.info.status
            for r in client.search_runs([experiment])
        }
        if statuses.get("child") == "KILLED":
            break
        time.sleep(0.5)
    assert statuses == {"child": "KILLED", "parent": "RUNNING"}
    command = [sys.executable, "-m", "tunelab.sweeps.stale", "--uri", store_uri(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ended 1 stale run(s) KILLED" in result.stdout, result.stderr
    (parent,) = [
        r for r in client.search_runs([experiment]) if "mlflow.parentRunId" not in r.data.tags
    ]
    assert parent.info.status == "KILLED" and "without closing" in parent.data.tags["error"]
