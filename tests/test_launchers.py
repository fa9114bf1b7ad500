"""Hydra launchers beyond the basic one: a sweep's trials as submitit jobs, an Optuna study with
pruning through them; a launcher whose plugin is not installed names the extra to install."""

from pathlib import Path

from tests.conftest import run_entry
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
    assert launcher_error(["-m", "hydra/launcher=joblib"]) is None  # installed with the project


def test_the_slurm_launcher_composes(tmp_path) -> None:
    result = run_entry(
        ["hydra/launcher=submitit_slurm", "--cfg", "hydra", "-p", "hydra.launcher"], tmp_path
    )
    assert "SlurmLauncher" in result.stdout and "signal_delay_s" in result.stdout
