"""A real `python train.py` run lands in MLflow with everything issue #2 promises."""

import pytest
import torch

from tests.conftest import TINY, run_entry


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("run")
    result = run_entry([*TINY, "tracking.experiment=test-exp"], root)
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("test-exp")
    runs = client.search_runs([experiment.experiment_id])
    return result, client, runs


def test_exactly_one_finished_run(trained) -> None:
    _, _, runs = trained
    assert len(runs) == 1
    assert runs[0].info.status == "FINISHED"
    assert runs[0].info.run_name == "cnn-adam-lr0.001"
    assert "mlflow.parentRunId" not in runs[0].data.tags


def test_params_are_the_flattened_config(trained) -> None:
    params = trained[2][0].data.params
    assert params["optimizer.lr"] == "0.001"
    assert params["model.hidden_dim"] == "128"
    assert params["trainer.max_epochs"] == "2"
    assert params["data.split.val"] == "0.15"
    assert not any(k.startswith("hydra") for k in params)


def test_tags(trained) -> None:
    tags = trained[2][0].data.tags
    for key in (
        "git.commit",
        "hydra.overrides",
        "command",
        "hydra.output_dir",
        "version.torch",
        "version.lightning",
        "device",
        "data.fingerprint",
    ):
        assert tags.get(key), key
    assert "trainer.max_epochs=2" in tags["hydra.overrides"]
    assert tags["device"] == "cpu"
    assert tags["data.train_size"] == "1257" and tags["data.num_classes"] == "10"


def test_per_epoch_and_test_metrics(trained) -> None:
    _, client, runs = trained
    run = runs[0]
    for stage in ("train", "val"):
        for name in ("loss", "acc", "f1", "auroc"):
            history = client.get_metric_history(run.info.run_id, f"{stage}/{name}")
            assert [m.step for m in history] == [0, 1], f"{stage}/{name}"
    assert len(client.get_metric_history(run.info.run_id, "val/acc_best")) == 2
    assert client.get_metric_history(run.info.run_id, "lr")
    for name in ("test/acc", "test/f1", "test/auroc", "test/loss", "objective"):
        assert name in run.data.metrics
    best = max(m.value for m in client.get_metric_history(run.info.run_id, "val/acc"))
    assert run.data.metrics["val/acc_best"] == pytest.approx(best)
    assert run.data.metrics["objective"] == pytest.approx(best)


def test_console_ends_with_results_and_browse_command(trained) -> None:
    out = trained[0].stdout
    run_id = trained[2][0].info.run_id
    assert "test/acc" in out
    assert f"MLflow run: {run_id}" in out
    assert "mlflow ui --backend-store-uri sqlite:///" in out


def test_artifacts_and_checkpoint_reproduces_test_accuracy(trained, tmp_path) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from tunelab.data.datamodule import build_datamodule

    _, client, runs = trained
    run = runs[0]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "overrides.yaml", "checkpoints"} <= names
    path = client.download_artifacts(run.info.run_id, "checkpoints/best.ckpt", str(tmp_path))
    checkpoint = torch.load(path, weights_only=True)
    config = OmegaConf.create(checkpoint["tunelab"]["config"])
    datamodule = build_datamodule(config.data)
    network = instantiate(
        config.model, input_shape=datamodule.input_shape, num_classes=10, dropout=0.0
    )
    weights = {
        k.removeprefix("network."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("network.")
    }
    network.load_state_dict(weights)
    network.eval()
    x, y = datamodule.splits["test"]
    mean, std = (torch.tensor(v) for v in checkpoint["tunelab"]["normalize"].values())
    with torch.no_grad():
        accuracy = (network((x - mean) / std).argmax(1) == y).float().mean().item()
    assert accuracy == pytest.approx(run.data.metrics["test/acc"], abs=1e-6)
