"""Lightning DDP (two CPU processes): one MLflow run, and each process trains on its own shard."""

import pytest

from tests.conftest import run_entry

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

DDP = ["trainer.accelerator=cpu", "trainer.devices=2", "+trainer.strategy=ddp"]
ONE_EPOCH = [
    "trainer.max_epochs=1",
    "trainer.log_every_n_steps=1",
    "callbacks.lr_monitor.logging_interval=step",
    "print_config=false",
    "callbacks.progress_bar=null",
]


def test_ddp_tracks_one_run_on_sharded_batches(tmp_path, client_for) -> None:
    result = run_entry([*DDP, *ONE_EPOCH], tmp_path)
    client = client_for(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    assert len(runs) == 1  # rank 1 writes nothing
    run_id = runs[0].info.run_id
    assert result.stdout.count("MLflow run:") == 1
    # 1,257 training digits, batch 64: 20 steps in one process, 10 in each of two.
    assert len(client.get_metric_history(run_id, "lr")) == 10
    assert runs[0].data.metrics["test/acc"] > 0.1


def test_a_grid_sweep_of_ddp_trials_is_one_parent_and_a_child_per_trial(tmp_path, client_for):
    """Each trial's second process trains that trial (not the sweep again, which opened a
    parent run of its own), and the second trial starts its processes anew."""
    sweep = ["-m", "optimizer.lr=0.01,0.02", f"hydra.sweep.dir={tmp_path}/sweep"]
    run_entry([*sweep, *DDP, *ONE_EPOCH], tmp_path)
    client = client_for(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert sorted(c.data.params["optimizer.lr"] for c in children) == ["0.01", "0.02"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert len(client.get_metric_history(child.info.run_id, "lr")) == 10  # sharded: 2 ranks
    for trial in ("0", "1"):  # each trial's rank 1 ran in the trial's own folder
        assert (tmp_path / "sweep" / trial / "train_ddp_process_1.log").exists()


def test_a_ddp_rank_of_a_sweep_trial_runs_that_trial_alone(monkeypatch) -> None:
    from tunelab.cli.runtime import (
        TRIAL_COMMAND_ENV,
        distributed_rank_command,
        remember_trial_command,
    )

    monkeypatch.setenv(TRIAL_COMMAND_ENV, "")  # restored after the test
    remember_trial_command(["optimizer.lr=0.02", "seed=1"], "/sweep/1")
    lightning = ["train.py", "-m", "optimizer.lr=0.01,0.02", "seed=1", 'hydra.run.dir="/x"']
    lightning += ["hydra.job.name=train_ddp_process_1", "hydra.output_subdir=null"]
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed_rank_command(lightning) == [
        "train.py",
        "optimizer.lr=0.02",
        "seed=1",
        "hydra.run.dir=/sweep/1",
        "hydra.job.name=train_ddp_process_1",
        "hydra.output_subdir=null",
    ]
    monkeypatch.setenv("LOCAL_RANK", "0")  # the trial's own process runs the sweep
    assert distributed_rank_command(lightning) == lightning


def test_an_optuna_study_of_ddp_trials_prunes_every_rank_at_once(tmp_path, client_for) -> None:
    """Rank 0 of the second trial (a learning rate that cannot learn) is told to prune after
    its first epoch; its other rank stops with it (else the trial would wait forever)."""
    from tests.test_optuna_sweeper import FAST, load

    storage = f"hydra.sweeper.storage={tmp_path}/study.journal"
    sweep = ["-m", *FAST, storage, f"hydra.sweep.dir={tmp_path}/sweep"]
    study_space = [
        *("hydra/sweeper/sampler=grid", "hydra.sweeper.sampler.seed=1"),  # 3e-3 first
        *("optimizer.lr=choice(3e-3,1e-7)", "hydra.sweeper.n_trials=2"),
        *("hydra.sweeper.pruner.n_startup_trials=1", "hydra.sweeper.pruner.n_warmup_steps=0"),
        *("trainer.max_epochs=3", "callbacks.early_stopping=null"),
    ]
    steps = ["trainer.log_every_n_steps=1", "callbacks.lr_monitor.logging_interval=step"]
    run_entry([*sweep, *study_space, *DDP, *steps], tmp_path)
    study, client, parents, children = load(tmp_path)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    assert len(parents) == 1 and len(children) == 2  # a child per trial, not per rank
    pruned = next(c for c in children if c.data.tags["optuna.trial"] == "1")
    assert pruned.info.status == "FINISHED" and pruned.data.tags["trial.state"] == "pruned"
    assert len(client.get_metric_history(pruned.info.run_id, "val/acc")) == 1
    complete = next(c for c in children if c.data.tags["optuna.trial"] == "0")
    assert len(client.get_metric_history(complete.info.run_id, "val/acc")) == 3
    assert len(client.get_metric_history(complete.info.run_id, "lr")) == 30  # 10 steps: 2 ranks
    rank_1 = (tmp_path / "sweep" / "1" / "train_ddp_process_1.log").read_text()
    assert "pruned: Trial was pruned at epoch 0" in rank_1  # the other rank stopped there too
