"""Lightning DDP (two CPU processes): one MLflow run, and each process trains on its own shard."""

from tests.conftest import run_entry

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
    from tunelab.runtime import TRIAL_COMMAND_ENV, distributed_rank_command, remember_trial_command

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
