"""A real `python train.py` run lands in MLflow with everything issue #2 promises."""

import pytest

from tests.conftest import png_width

pytestmark = pytest.mark.process  # one real `python train.py` run (conftest.trained_run)


def test_exactly_one_finished_run(trained_run) -> None:
    _, _, runs = trained_run
    assert len(runs) == 1
    assert runs[0].info.status == "FINISHED"
    assert runs[0].info.run_name == "cnn-adam-lr0.001 on digits"
    assert "mlflow.parentRunId" not in runs[0].data.tags


def test_params_are_the_knobs_and_the_choices(trained_run) -> None:
    params = trained_run[2][0].data.params
    assert params["optimizer.lr"] == "0.001"
    assert params["model.hidden_dim"] == "128"
    assert params["trainer.max_epochs"] == "2"
    assert params["data.split.val"] == "0.15"
    for knob in ("seed", "data.batch_size", "optimizer.weight_decay", "regularization.dropout"):
        assert knob in params, knob
    assert params["callbacks.early_stopping.patience"] == "8"
    assert {k: params[k] for k in ("data", "model", "optimizer", "scheduler")} == {
        "data": "digits",
        "model": "cnn",
        "optimizer": "adam",
        "scheduler": "constant",
    }
    plumbing = ("hydra", "paths", "tracking", "_target_", "_partial_", "dirpath", "uri")
    assert not [k for k in params if any(p in k for p in plumbing)]
    assert len(params) <= 50


def test_tags(trained_run) -> None:
    tags = trained_run[2][0].data.tags
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


def test_per_epoch_and_test_metrics(trained_run) -> None:
    _, client, runs = trained_run
    run = runs[0]
    for stage in ("train", "val"):
        for name in ("loss", "acc", "f1", "auroc"):
            history = client.get_metric_history(run.info.run_id, f"{stage}/{name}")
            assert [m.step for m in history] == [0, 1], f"{stage}/{name}"
    assert len(client.get_metric_history(run.info.run_id, "val/acc_best")) == 2
    assert [m.step for m in client.get_metric_history(run.info.run_id, "lr")] == [0, 1]  # per epoch
    for name in ("test/acc", "test/f1", "test/auroc", "test/loss", "objective"):
        assert name in run.data.metrics
    best = max(m.value for m in client.get_metric_history(run.info.run_id, "val/acc"))
    assert run.data.metrics["val/acc_best"] == pytest.approx(best)
    assert run.data.metrics["objective"] == pytest.approx(best)


def test_console_ends_with_results_and_browse_command(trained_run) -> None:
    out = trained_run[0].stdout
    run_id = trained_run[2][0].info.run_id
    assert "test/acc" in out
    assert f"MLflow run: {run_id}" in out
    experiment = trained_run[2][0].info.experiment_id
    link = f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{run_id}?workflowType=machine_learning"
    assert f"open it:    {link}" in out
    assert "served by:  mlflow ui --backend-store-uri sqlite:///" in out
    assert f"files in:   {trained_run[2][0].data.tags['hydra.output_dir']}" in out


def test_the_console_says_what_runs_and_where_it_went_in_few_lines(trained_run) -> None:
    """Not a terminal: what the run is, the progress bar's last state, the results table and
    where to look; no config tree (print_config=true shows it), no Lightning chatter."""
    lines = (trained_run[0].stdout + trained_run[0].stderr).splitlines()
    assert (
        lines[0]
        == "run cnn-adam-lr0.001 on digits: trainer.max_epochs=2 tracking.experiment=test-exp"
    )
    assert len(lines) <= 25, "\n".join(lines)
    for noise in ("GPU available", "TPU available", "limit_", "weights_only", "Restoring states"):
        assert not any(noise in line for line in lines), noise
    assert not any(line == "config" or line.startswith(("├── ", "└── ")) for line in lines)


def test_artifacts_and_checkpoint_reproduces_test_accuracy(trained_run, tmp_path) -> None:
    from omegaconf import OmegaConf

    from tunelab.data.datamodule import build_datamodule
    from tunelab.inference.checkpoint import load_model

    _, client, runs = trained_run
    run = runs[0]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "overrides.yaml", "checkpoints"} <= names
    path = client.download_artifacts(run.info.run_id, "checkpoints/best.ckpt", str(tmp_path))
    model = load_model(path)  # torch.load(..., weights_only=True) inside
    assert model.classes == [str(d) for d in range(10)]
    datamodule = build_datamodule(OmegaConf.create(model.config).data)  # the same split
    x, y = datamodule.split("test")
    accuracy = (model.predict(x).argmax(1) == y).float().mean().item()
    assert accuracy == pytest.approx(run.data.metrics["test/acc"], abs=1e-6)


def test_context_every_tracker_shows(trained_run) -> None:
    """The data as dataset inputs (fingerprint as digest, one per split), system metrics, the
    user, the job's log, and an experiment that says what it holds and opens on its runs."""
    _, client, runs = trained_run
    run = runs[0]
    inputs = {
        [t.value for t in i.tags if t.key == "mlflow.data.context"][0]: i.dataset
        for i in run.inputs.dataset_inputs
    }
    assert sorted(inputs) == ["test", "training", "validation"]
    assert {d.digest for d in inputs.values()} == {run.data.tags["data.fingerprint"]}
    assert inputs["training"].name == f"{run.data.tags['data.name']}/train"
    for key in ("system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"):
        assert client.get_metric_history(run.info.run_id, key), key
    assert run.data.tags["mlflow.user"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"train.log", "confusion_matrix.png"} <= artifacts
    matrix = client.download_artifacts(run.info.run_id, "confusion_matrix.png")
    assert png_width(matrix) >= 1000
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "sweep is a parent run" in experiment.tags["mlflow.note.content"]


def test_the_model_says_it_comes_from_the_runs_script(trained_run) -> None:
    """MLflow tags a logged model with the process that logs it, here the writer's file."""
    _, client, runs = trained_run
    model = client.get_logged_model(runs[0].outputs.model_outputs[0].model_id)
    source = {k: v for k, v in runs[0].data.tags.items() if k.startswith("mlflow.source.")}
    assert source["mlflow.source.name"].endswith("train.py")
    assert {k: model.tags.get(k) for k in source} == source
