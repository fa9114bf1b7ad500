"""lr_find=true: Lightning's learning-rate finder instead of a training, recorded on the run."""

from pathlib import Path

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
