"""Multirun sweeps land in MLflow as one parent run with a child per trial and a summary."""

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, png_width, run_entry, run_in_process

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

FAST = ["model=mlp", "model.hidden_dim=32", "print_config=false", "callbacks.progress_bar=null"]


def sweep(tmp_path, *args: str, check: bool = True, process: bool = False):
    """A grid sweep in this process, or as `python train.py -m` when the test is about the
    processes (what the training process imports, trials in joblib workers)."""
    from mlflow import MlflowClient

    run = run_entry if process else run_in_process
    result = run(["-m", *FAST, "tracking.experiment=sweep", *args], tmp_path, check=check)
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("sweep")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return result, client, parents, children


def artifacts(client, run_id: str, folder: str) -> set[str]:
    return {a.path.split("/")[-1] for a in client.list_artifacts(run_id, folder)}


def test_grid_sweep_is_one_parent_with_its_children(tmp_path) -> None:
    survivors = tmp_path / "survivors.jsonl"
    result, client, parents, children = sweep(
        tmp_path,
        "optimizer.lr=1e-3,1e-4",
        "trainer.max_epochs=2",
        "+hydra.callbacks.probe._target_=tests.memory_probe.SurvivorsAfterJob",
        f"+hydra.callbacks.probe.out={survivors}",
        process=True,
    )
    assert len(parents) == 1 and len(children) == 2
    # Each trial's datamodule, classifier and trainer are garbage once it ends: the next
    # trial never loads its data beside them; and MLflow stays in the writer process.
    jobs = [json.loads(line) for line in survivors.read_text().splitlines()]
    assert jobs == [{"job": k, "alive": [], "mlflow": False} for k in (0, 1)]
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert re.fullmatch(r"sweep lr on digits \d\d-\d\d \d\d:\d\d:\d\d", parent.info.run_name)
    assert sorted(c.info.run_name for c in children) == ["#0 lr=1e-3", "#1 lr=1e-4"]
    assert "optimizer.lr=1e-3,1e-4" in parent.data.tags["sweep.overrides"]
    assert parent.data.tags["sweep.dir"]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {c.info.experiment_id for c in children} == {parent.info.experiment_id}
    assert sorted(c.data.tags["sweep.trial"] for c in children) == ["0", "1"]
    assert {c.data.params["optimizer.lr"] for c in children} == {"0.001", "0.0001"}
    assert all("optimizer.lr=" in c.data.tags["sweep.trial_overrides"] for c in children)

    best = max(children, key=lambda c: c.data.metrics["objective"])
    assert parent.data.params["best.run_id"] == best.info.run_id
    assert parent.data.params["best.trial"] == best.data.tags["sweep.trial"]
    assert parent.data.params["best.overrides"] == best.data.tags["sweep.trial_overrides"]
    assert parent.data.metrics["best_objective"] == pytest.approx(best.data.metrics["objective"])
    assert parent.data.metrics["trials_finished"] == 2 and parent.data.metrics["trials_failed"] == 0
    assert_the_parent_tells_the_story(client, parent, children)
    assert {
        "trials.csv",
        "trials.md",
        "objective_vs_optimizer_lr.png",
        "validation_curves.png",
    } <= artifacts(client, parent.info.run_id, "sweep")
    table = client.download_artifacts(parent.info.run_id, "sweep/trials.csv", str(tmp_path))
    text = Path(table).read_text()
    assert text.count(",finished,") == 2 and best.info.run_id in text
    assert f"MLflow parent run: {parent.info.run_id}" in result.stdout
    # the winner became a config, which trains the best trial again, epoch for epoch
    promoted = Path(parent.data.tags["promoted_to"])
    assert promoted == tmp_path / "conf" / "experiment" / "sweep_lr_best.yaml"
    assert f"promoted_to: {promoted}" in result.stdout
    version = client.get_model_version("sweep", parent.data.tags["registered_model.version"])
    assert version.tags["tunelab.experiment"] == promoted.stem  # the two name each other
    again = [f"experiment={promoted.stem}", f"hydra.searchpath=[file://{tmp_path}/conf]"]
    run_in_process(again, tmp_path)
    (rerun,) = [
        r
        for r in client.search_runs([parent.info.experiment_id])
        if r.info.run_id not in {parent.info.run_id, *(c.info.run_id for c in children)}
    ]

    def curve(run) -> list[tuple[int, float]]:
        return [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val/acc")]

    assert curve(rerun) == curve(best) and len(curve(best)) == 2
    # any finished sweep's trial, on demand
    promote = [sys.executable, "-m", "tunelab.sweeps.promote", parent.info.run_id, "--trial", "1"]
    env = {
        **os.environ,
        "TUNELAB_ROOT": str(tmp_path),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
    }
    done = subprocess.run(promote, env=env, capture_output=True, text=True, cwd=ROOT, check=True)
    assert f"wrote {promoted}" in done.stdout and "trial #1" in promoted.read_text()


def test_joblib_two_workers_lose_nothing(tmp_path) -> None:
    _, client, parents, children = sweep(
        tmp_path,
        "optimizer.lr=1e-3,2e-3,3e-3,4e-3",
        "trainer.max_epochs=2",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        process=True,
    )
    assert len(parents) == 1 and len(children) == 4
    assert parents[0].data.metrics["trials_finished"] == 4
    for child in children:
        assert child.info.status == "FINISHED"
        for name in ("train/loss", "train/acc", "val/loss", "val/acc", "val/f1", "val/auroc"):
            assert [m.step for m in client.get_metric_history(child.info.run_id, name)] == [0, 1], (
                name
            )
        assert "test/acc" in child.data.metrics
        assert artifacts(client, child.info.run_id, "checkpoints") == {"best.ckpt"}
        # the trial's model: in the trial's experiment, its files in the store's artifacts
        model = client.get_logged_model(child.outputs.model_outputs[0].model_id)
        assert model.experiment_id == child.info.experiment_id
        assert model.artifact_location.startswith(str(tmp_path)), model.artifact_location
    # the best trial's model registered by the sweep process (the trials ran in others)
    assert parents[0].data.tags["registered_model"] == "sweep version 1"


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path) -> None:
    # SGD at lr=1e12 makes the loss NaN: the trial raises FloatingPointError after its first epoch
    _, client, parents, children = sweep(
        tmp_path, "optimizer=sgd", "optimizer.lr=0.01,1e12,0.02", "trainer.max_epochs=1"
    )
    statuses = sorted(c.info.status for c in children)
    assert statuses == ["FAILED", "FINISHED", "FINISHED"]
    failed = next(c for c in children if c.info.status == "FAILED")
    assert "FloatingPointError" in failed.data.tags["error"]
    assert "error.txt" in artifacts(client, failed.info.run_id, "")
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["trials_failed"] == 1 and parent.data.metrics["trials_total"] == 3


def test_on_trial_error_stop_ends_the_sweep_at_the_first_failure(tmp_path) -> None:
    result, _, parents, children = sweep(
        tmp_path, "optimizer.lr=-1,1e-3", "trainer.max_epochs=1", "on_trial_error=stop", check=False
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr  # a bad value is one line, in a sweep too
    assert result.stderr.strip().splitlines()[-1] == (
        "tunelab: trial 0 failed: invalid config: optimizer.lr=-1: the learning rate must be > 0;"
        " the sweep stops (on_trial_error=stop)"
    )
    assert [c.info.status for c in children] == ["FAILED"]  # the second trial never ran
    assert "optimizer.lr=-1" in children[0].data.tags["error"]
    assert parents[0].info.status == "FAILED"
    assert parents[0].data.metrics["trials_failed"] == 1


def test_k_fold_summary_matches_the_children(tmp_path) -> None:
    _, client, parents, children = sweep(
        tmp_path,
        "data.fold=0,1,2",
        "data.num_folds=3",
        "optimizer.lr=1e-3,3e-3",
        "trainer.max_epochs=1",
    )
    assert len(children) == 6
    assert len({c.data.tags["data.fingerprint"] for c in children}) == 1
    val_sets = {c.data.tags["data.val_size"] for c in children}
    assert all(int(v) > 0 for v in val_sets)
    parent = parents[0]
    path = client.download_artifacts(parent.info.run_id, "sweep/folds.csv", str(tmp_path))
    import csv

    rows = list(csv.DictReader(Path(path).read_text().splitlines()))
    assert len(rows) == 2
    for row in rows:
        lr = "0.001" if "optimizer.lr=0.001" in row["overrides"] else "0.003"
        values = [
            c.data.metrics["objective"] for c in children if c.data.params["optimizer.lr"] == lr
        ]
        assert len(values) == 3 and row["folds"] == "3"
        assert float(row["mean"]) == pytest.approx(statistics.fmean(values))
        assert float(row["std"]) == pytest.approx(statistics.stdev(values))
    assert parent.data.metrics["best_fold_mean"] == pytest.approx(
        max(float(r["mean"]) for r in rows)
    )


def test_model_selection_sweep(tmp_path) -> None:
    _, _, parents, children = sweep(tmp_path, "model=mlp,cnn", "trainer.max_epochs=1")
    assert len(parents) == 1
    assert sorted(c.data.params["model"] for c in children) == ["cnn", "mlp"]


def test_ctrl_c_leaves_the_child_and_the_parent_killed(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from mlflow import MlflowClient

    from tests.conftest import ROOT
    from tunelab.sweeps.state import PARENT_FILE

    env = {**os.environ, "TUNELAB_ROOT": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = [
        *FAST,
        "tracking.experiment=sweep",
        "optimizer.lr=1e-3,1e-4",
        "trainer.max_epochs=1000",
        "callbacks.early_stopping=null",
    ]
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "-m", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    # Open the store only once the sweep has created it (its parent run is written after the
    # tables): a client opening a store another process is creating races its migrations.
    while time.time() < deadline and not list(tmp_path.glob(f"multirun/*/*/{PARENT_FILE}")):
        time.sleep(0.5)
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    child = None
    while time.time() < deadline and child is None:
        time.sleep(1)
        experiment = client.get_experiment_by_name("sweep")
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
        running = [
            r
            for r in runs
            if "mlflow.parentRunId" in r.data.tags and r.data.metrics.get("train/loss")
        ]
        child = running[0] if running else None
    assert child is not None, "no child run started training"
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert process.wait(timeout=60) != 0
    runs = client.search_runs([child.info.experiment_id])
    statuses = {
        ("child" if "mlflow.parentRunId" in r.data.tags else "parent"): r.info.status for r in runs
    }
    assert len(runs) == 2, "the second trial must not start after Ctrl-C"
    assert statuses == {"child": "KILLED", "parent": "KILLED"}


def assert_the_parent_tells_the_story(client, parent, children) -> None:
    """The parent's note links every child and the best; the best objective so far is a metric
    stepped by trial number, one point per finished trial."""
    note = parent.data.tags["mlflow.note.content"]
    experiment = parent.info.experiment_id
    for child in children:
        assert (
            f"[{child.info.run_name}](#/experiments/{experiment}/runs/{child.info.run_id})" in note
        )
    best = max(children, key=lambda c: c.data.metrics["objective"])
    assert (
        f"**Best**: [{best.info.run_name}](#/experiments/{experiment}/runs/{best.info.run_id})"
        in note
    )
    assert "- `optimizer.lr`: 1e-3,1e-4" in note and "- `sweeper`: BasicSweeper" in note
    folder = Path(client.download_artifacts(parent.info.run_id, "sweep"))
    for plot in ("validation_curves.png", "objective_vs_optimizer_lr.png"):
        assert png_width(folder / plot) >= 1000, plot  # plots worth opening
    # best_objective is the best so far, stepped by trial number: its last value, the one the
    # run list shows, is the sweep's best
    history = sorted(
        (m.step, m.value) for m in client.get_metric_history(parent.info.run_id, "best_objective")
    )
    objectives = sorted(
        (int(c.data.tags["sweep.trial"]), c.data.metrics["objective"]) for c in children
    )
    assert [step for step, _ in history] == [number for number, _ in objectives]
    assert [value for _, value in history] == [
        max(v for _, v in objectives[: i + 1]) for i in range(len(objectives))
    ]
    assert parent.data.metrics["best_objective"] == history[-1][1]
