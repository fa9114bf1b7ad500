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
