"""Hydra launchers beyond the basic one: a sweep's trials as submitit jobs, an Optuna study with
pruning through them; a launcher whose plugin is not installed names the extra to install."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY, run_entry, store_uri
from tests.test_optuna_sweeper import load, study_sweep


def test_an_optuna_study_with_pruning_runs_as_submitit_jobs(tmp_path) -> None:
    """Two trials as submitit_local jobs: one parent, a child per trial, and the second
    (a learning rate that cannot learn) pruned by the study after its first epoch."""
    study_sweep(
        tmp_path,
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={tmp_path}/sweep",
        "hydra/sweeper/sampler=grid",
        "hydra.sweeper.sampler.seed=1",  # the grid's order: 3e-3 first, then 1e-7
        "optimizer.lr=choice(3e-3,1e-7)",
        "hydra.sweeper.n_trials=2",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        "trainer.max_epochs=4",
        "callbacks.early_stopping=null",
    )
    study, client, parents, children = load(tmp_path)
    assert len(parents) == 1 and len(children) == 2
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    assert study.trials[1].params["optimizer.lr"] == 1e-7
    pruned = next(c for c in children if c.data.tags["optuna.trial"] == "1")
    assert pruned.info.status == "KILLED" and pruned.data.tags["pruned"] == "true"
    assert len(client.get_metric_history(pruned.info.run_id, "val/acc")) < 4
    # submitit ran them: a job folder with its result for each trial
    results = list(Path(tmp_path, "sweep", ".submitit").glob("*/*_result.pkl"))
    assert len(results) == 2, list(Path(tmp_path, "sweep").rglob("*"))


def test_a_launcher_that_is_not_installed_names_its_extra(monkeypatch, tmp_path) -> None:
    import importlib.util

    from tunelab.checks import launcher_error

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if "submitit" in name else real(name, *a)
    )
    problem = launcher_error(["-m", "hydra/launcher=submitit_slurm", "optimizer.lr=1,2"])
    assert problem is not None and "pip install -e '.[launchers]'" in problem
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    problem = launcher_error(["-m", "hydra/launcher=ray"])
    assert problem is not None and "pip install -e '.[ray]'" in problem
    assert launcher_error(["-m", "hydra/launcher=joblib"]) is None  # installed with the project


def test_the_slurm_launcher_composes(tmp_path) -> None:
    result = run_entry(
        ["hydra/launcher=submitit_slurm", "--cfg", "hydra", "-p", "hydra.launcher"], tmp_path
    )
    assert "SlurmLauncher" in result.stdout and "signal_delay_s" in result.stdout


@pytest.fixture
def ray_cluster(tmp_path):
    """A local Ray head with 2 CPUs, started for the test and stopped after: its address."""
    from tests.test_recipes import free_port

    port = free_port()
    ray = str(Path(sys.executable).parent / "ray")
    # No token authentication (Ray turns it on where an earlier local instance left a token).
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    start = [
        *(ray, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1"),
        *("--num-cpus=2", "--object-store-memory=100000000", "--include-dashboard=false"),
    ]
    subprocess.run(start, check=True, capture_output=True, env=env, timeout=120)
    yield f"127.0.0.1:{port}"
    subprocess.run([ray, "stop", "--force"], capture_output=True, env=env, timeout=120)


def test_a_grid_sweep_runs_its_trials_as_ray_tasks(ray_cluster, tmp_path) -> None:
    from mlflow import MlflowClient

    args = ["-m", "hydra/launcher=ray", f"hydra.launcher.address={ray_cluster}", *TINY]
    run_entry([*args, "optimizer.lr=0.01,0.02", "tracking.experiment=ray"], tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("ray").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and len(children) == 2
    assert all(c.info.status == "FINISHED" and "test/acc" in c.data.metrics for c in children)
    # run by Ray's workers, not by the process that ran the sweep
    assert parent.data.tags["process"] not in {c.data.tags["process"] for c in children}


def test_a_ray_address_that_does_not_answer_is_one_line_and_no_run(tmp_path) -> None:
    from tests.test_recipes import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    args = ["-m", "hydra/launcher=ray", f"hydra.launcher.address={address}", "optimizer.lr=1,2"]
    result = run_entry(args, tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"tunelab: hydra.launcher.address={address}: no Ray cluster answers there within 10 s: "
        "start one (ray start --head) or fix the address"
    )
    assert not (tmp_path / "mlflow.db").exists()  # no sweep run was opened


def test_the_ray_launcher_is_listed_and_does_not_load_ray_for_help() -> None:
    from tests.test_config import imported_modules, run_quick

    result = run_quick("--hydra-help")
    assert "ray" in result.stdout  # hydra/launcher=ray is listed
    assert "ray" not in imported_modules(result.stderr)
