"""lr_find=true: Lightning's learning-rate finder instead of a training, recorded on the run."""

from pathlib import Path

import pytest

from tests.conftest import store_uri, train_in_process


def test_the_finder_suggests_a_rate_and_records_its_plot(tmp_path, capsys) -> None:
    import pandas as pd
    from mlflow import MlflowClient

    job = train_in_process(["lr_find=true", "model=mlp", "lr_find_range.steps=60"], tmp_path)
    suggestion = job.results["lr_find/suggestion"]
    assert 1e-6 < suggestion < 1.0
    run = MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id)
    assert run.data.metrics["lr_find/suggestion"] == suggestion
    artifacts = {a.path for a in MlflowClient(store_uri(tmp_path)).list_artifacts(job.run.run_id)}
    assert {"lr_find.png", "lr_find.csv"} <= artifacts
    assert "checkpoints" not in artifacts and "lr_find" not in run.data.params  # no training
    table = pd.read_csv(Path(job.output_dir) / "lr_find" / "lr_find.csv")
    assert table["lr"].is_monotonic_increasing and table["lr"].iloc[0] >= 1e-6
    assert f"optimizer.lr={suggestion:.3g}" in capsys.readouterr().out
    assert not list(
        Path.cwd().glob(".lr_find_*.ckpt")
    )  # the finder's file stays in the run's folder


def test_accumulated_batches_and_bf16_are_knobs_that_train(tmp_path) -> None:
    """trainer.accumulate_grad_batches: one optimizer step per 4 batches (digits: 20 training
    batches of 64, so 5 steps an epoch); trainer.precision=bf16-mixed trains on the CPU."""
    from mlflow import MlflowClient

    per_step = [
        "callbacks.lr_monitor.logging_interval=step",
        "trainer.log_every_n_steps=1",
        "trainer.max_epochs=1",
    ]
    accumulated = train_in_process([*per_step, "trainer.accumulate_grad_batches=4"], tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    steps = {m.step for m in client.get_metric_history(accumulated.run.run_id, "lr")}
    assert steps == {0, 1, 2, 3, 4}
    bf16 = tmp_path / "bf16"
    bf16.mkdir()
    job = train_in_process(["trainer.precision=bf16-mixed", "trainer.max_epochs=2"], bf16)
    run = MlflowClient(store_uri(bf16)).get_run(job.run.run_id)
    assert run.data.params["trainer.precision"] == "bf16-mixed"
    assert run.data.metrics["test/acc"] > 0.5  # it learned, in bfloat16 autocast


def test_a_search_narrows_its_learning_rate_to_a_decade_around_the_finders(tmp_path) -> None:
    import re

    from mlflow import MlflowClient

    from tests.conftest import run_in_process

    args = [
        "-m",
        "hparams_search=digits_tpe",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.lr_find=true",
        "lr_find_range.steps=40",
        "trainer.max_epochs=1",
        "promote_to=null",
        "print_config=false",
        "callbacks.progress_bar=null",
    ]
    run_in_process(args, tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    note = parent.data.tags["sweep.lr_find"]
    low, high = (float(v) for v in re.search(r"searched in \[([^,]+), ([^\]]+)\]", note).groups())
    assert high / low == pytest.approx(10, rel=0.01)  # a decade, where params gave 1e-4 .. 1e-1
    children = [r for r in runs if r is not parent and "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 2
    for child in children:
        assert low * 0.99 <= float(child.data.params["optimizer.lr"]) <= high * 1.01
