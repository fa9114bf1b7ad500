"""Regression on tables: numeric targets learned standardised, measured and predicted in the
target's units, through training, the store, evaluation, prediction, export and sweeps."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import (
    CONF,
    compose_config,
    job_in_process,
    run_in_process,
    store_uri,
    train_in_process,
    training_refused,
)
from tunelab.data.csv_table import load_csv
from tunelab.errors import DataError
from tunelab.inference.checkpoint import load_model


def write_houses(path: Path, rows: int = 240, seed: int = 0) -> Path:
    """A table with two numeric targets in units far from standardised: price in the
    thousands, and a tax that follows it; one categorical feature."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.uniform(0, 10, size=rows)
    city = rng.choice(["north", "south", "west"], size=rows)
    price = 1000 + 300 * x1 - 50 * x2 + 200 * (city == "south") + rng.normal(0, 20, rows)
    tax = 0.2 * price + rng.normal(0, 5, rows)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "city": city, "price": price, "tax": tax})
    frame.to_csv(path, index=False)
    return path


def table_overrides(path: Path, target: str = "price") -> list[str]:
    return [
        "task=regression",
        "data=csv",
        f"data.source.path={path}",
        f"data.source.target={target}",
        "data.source.categorical=[city]",
        "model=mlp",
        "model.hidden_dim=32",
        "optimizer.lr=1e-2",
        "tracking.experiment=houses",
    ]


@pytest.fixture(scope="module")
def price_run(tmp_path_factory):
    """One regression run on price (tax dropped), in this process: (root, table, job)."""
    root = tmp_path_factory.mktemp("price")
    table = write_houses(root / "houses.csv")
    overrides = [*table_overrides(table), "data.source.drop=[tax]", "trainer.max_epochs=3"]
    return root, table, train_in_process(overrides, root)


def best_checkpoint(root: Path) -> Path:
    return root / "outputs" / "in-process" / "checkpoints" / "best.ckpt"


def test_logged_metrics_match_a_hand_computation_in_the_targets_units(price_run) -> None:
    from mlflow import MlflowClient

    root, table, job = price_run
    run = MlflowClient(store_uri(root)).get_run(job.run.run_id)
    assert run.data.params["task"] == "regression" and run.data.params["loss"] == "mse"
    assert run.data.tags["data.targets"] == "price" and "data.classes" not in run.data.tags
    model = load_model(best_checkpoint(root))
    frame = pd.read_csv(table)
    index = {k: v.numpy() for k, v in model_split(model).items()}
    y = frame["price"].to_numpy()
    mean, std = y[index["train"]].mean(), y[index["train"]].std(ddof=1)  # training rows only
    # The network's output, un-standardised by hand (not through tunelab's output layer).
    x = model.preprocess(frame.drop(columns=["price", "tax"]).iloc[index["test"]])
    with torch.no_grad():
        predicted = model.network(x)[:, 0].double().numpy() * std + mean
    true = y[index["test"]]
    mae = np.abs(predicted - true).mean()
    rmse = math.sqrt(((predicted - true) ** 2).mean())
    r2 = 1 - ((true - predicted) ** 2).sum() / ((true - true.mean()) ** 2).sum()
    metrics = run.data.metrics
    assert metrics["test/mae"] == pytest.approx(mae, rel=1e-4)
    assert metrics["test/rmse"] == pytest.approx(rmse, rel=1e-4)
    assert metrics["test/r2"] == pytest.approx(r2, rel=1e-4, abs=1e-4)
    assert mae < 0.5 * np.abs(true - true.mean()).mean()  # it learned something, in 3 epochs
    # The objective is the lowest validation RMSE of the epochs, in price units too.
    val_rmse = [
        m.value
        for m in MlflowClient(store_uri(root)).get_metric_history(run.info.run_id, "val/rmse")
    ]
    assert metrics["objective"] == pytest.approx(min(val_rmse))
    assert min(val_rmse) > 10  # the target's units (about 20 noise), not standardised ones


def model_split(model):
    from tunelab.data.datamodule import build_datamodule

    return build_datamodule(OmegaConf.create(model.config["data"]), model.task).index


def test_the_logged_mlflow_model_predicts_in_the_targets_units(price_run) -> None:
    import mlflow
    from mlflow import MlflowClient

    from tunelab.tracking.registry import run_model_id

    root, table, job = price_run
    client = MlflowClient(store_uri(root))
    mlflow.set_tracking_uri(store_uri(root))
    served = mlflow.pyfunc.load_model(f"models:/{run_model_id(client, job.run.run_id)}")
    rows = pd.read_csv(table).head(20)
    predicted = served.predict(rows.drop(columns=["price", "tax"]))
    assert list(predicted.columns) == ["price"]
    expected = load_model(best_checkpoint(root)).predict_raw(rows.drop(columns=["price", "tax"]))
    np.testing.assert_allclose(predicted.to_numpy(), expected.numpy(), rtol=1e-5)
    # Prices in the hundreds to thousands, as in the table, not values around 0.
    assert abs(predicted["price"].mean() - rows["price"].mean()) < 0.5 * rows["price"].std()


def test_evaluation_and_prediction_on_a_table_without_the_target(price_run, tmp_path) -> None:
    from mlflow import MlflowClient

    root, table, job = price_run
    new = tmp_path / "new.csv"
    pd.read_csv(table).drop(columns=["price", "tax"]).head(7).to_csv(new, index=False)
    common = [
        f"paths.root_dir={root}",
        f"tracking.uri={store_uri(root)}",
        f"run_id={job.run.run_id}",
    ]
    metrics = job_in_process("eval", common, tmp_path / "eval").results
    logged = MlflowClient(store_uri(root)).get_run(job.run.run_id).data.metrics
    for name in ("test/mae", "test/rmse", "test/r2"):
        assert metrics[name] == pytest.approx(logged[name], rel=1e-4, abs=1e-5), name
    files = {p.name for p in (tmp_path / "eval").iterdir()}
    assert {"per_target.csv", "per_target.md", "predicted_vs_true.png", "residuals.png"} <= files
    assert "confusion_matrix.png" not in files
    per_target = pd.read_csv(tmp_path / "eval" / "per_target.csv")
    assert per_target["target"].tolist() == ["price"]
    assert per_target["rmse"][0] == pytest.approx(metrics["test/rmse"], rel=1e-5)
    job_in_process("eval", [*common, "mode=predict", f"input={new}"], tmp_path / "predict")
    predictions = pd.read_csv(tmp_path / "predict" / "predictions.csv")
    assert list(predictions.columns) == ["id", "price"] and len(predictions) == 7
    expected = load_model(best_checkpoint(root)).predict_raw(pd.read_csv(new))
    np.testing.assert_allclose(predictions["price"], expected[:, 0].numpy(), rtol=1e-5)


def test_export_ships_the_regression_in_the_targets_units(price_run, tmp_path) -> None:
    from hydra import compose, initialize_config_dir

    from tunelab.export.formats import onnx_metadata, onnx_session, run_onnx
    from tunelab.export.variants import export

    root, _, _ = price_run
    model = load_model(best_checkpoint(root))
    from tunelab.data.datamodule import build_datamodule

    datamodule = build_datamodule(OmegaConf.create(model.config["data"]), model.task)
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "export",
            overrides=[
                "export.variants=[onnx,int8_dynamic,slim]",
                "export.finetune_epochs=1",
                "latency.batch_sizes=[1]",
                "latency.calls=2",
                "latency.warmup=1",
            ],
        )
    rows = {r["variant"]: r for r in export(cfg, model, datamodule, tmp_path)}
    assert set(rows) == {"onnx", "int8_dynamic", "slim"}
    test = datamodule.index["test"]
    x, y = datamodule.data.x[test], datamodule.data.y[test]
    session = onnx_session(tmp_path / "model.onnx")
    shipped = run_onnx(session, x.numpy())
    np.testing.assert_allclose(shipped, model.predict(x).numpy(), rtol=1e-4, atol=1e-2)
    assert onnx_metadata(session)["targets"] == ["price"]
    rmse = float(((torch.from_numpy(shipped) - y) ** 2).mean().sqrt())
    assert rows["onnx"]["test_rmse"] == pytest.approx(rmse, rel=1e-4)
    assert "test_acc" not in rows["onnx"] and math.isnan(rows["onnx"]["agree"])
    for name in ("int8_dynamic", "slim"):  # compressed, still about as good
        assert rows[name]["test_rmse"] < 1.5 * rows["onnx"]["test_rmse"] + 5, name


def test_several_targets_are_learned_and_predicted_together(tmp_path) -> None:
    from tunelab.evaluation.evaluate import evaluate, predictions_table

    table = write_houses(tmp_path / "houses.csv")
    overrides = [*table_overrides(table, "[price,tax]"), "trainer.max_epochs=2"]
    job = train_in_process(overrides, tmp_path)
    model = load_model(best_checkpoint(tmp_path))
    assert model.output_names == ["price", "tax"]
    from tunelab.data.datamodule import build_datamodule

    datamodule = build_datamodule(OmegaConf.create(model.config["data"]), model.task)
    result = evaluate(model, datamodule)
    assert result.predictions.shape == (len(datamodule.index["test"]), 2)
    assert result.detail["target"].tolist() == ["price", "tax"]
    # each target's errors in its units; the headline, their mean in each target's (training)
    # standard deviations: price's units do not outweigh tax's
    rmse = result.detail.set_index("target")["rmse"]
    assert result.metrics["test/rmse/price"] == pytest.approx(rmse["price"], rel=1e-5)
    assert result.metrics["test/rmse/tax"] == pytest.approx(rmse["tax"], rel=1e-5)
    std = model.metadata["target_scale"]["std"]
    unit_free = (rmse["price"] / std[0] + rmse["tax"] / std[1]) / 2
    assert result.metrics["test/rmse"] == pytest.approx(unit_free, rel=1e-5)
    assert result.metrics["test/rmse"] != pytest.approx(rmse.mean(), rel=1e-2)
    assert result.metrics["test/r2"] == pytest.approx(result.detail["r2"].mean(), rel=1e-4)
    table_out = predictions_table(["a", "b"], result.predictions[:2], model)
    assert list(table_out.columns) == ["id", "price", "tax"]
    from mlflow import MlflowClient

    trained = MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id)
    assert trained.info.run_name.endswith(" on houses")  # a table of your own: its file's name
    logged = trained.data.metrics
    assert logged["test/rmse"] == pytest.approx(result.metrics["test/rmse"], rel=1e-4)
    assert logged["test/mae/tax"] == pytest.approx(result.metrics["test/mae/tax"], rel=1e-4)
    assert "val/rmse/price" in logged and "test/r2/price" not in logged


def test_the_target_scale_comes_from_the_training_rows_only(tmp_path) -> None:
    from tunelab.data.datamodule import DataModule

    table = write_houses(tmp_path / "houses.csv")
    data = load_csv(str(table), ["price", "tax"], ["city"], [], task="regression")
    split = {"val": 0.2, "test": 0.2, "seed": 3}
    datamodule = DataModule(data, split, batch_size=16)
    y = pd.read_csv(table)[["price", "tax"]].to_numpy()
    train = datamodule.index["train"].numpy()
    np.testing.assert_allclose(datamodule.target_scale["mean"], y[train].mean(0), rtol=1e-5)
    np.testing.assert_allclose(datamodule.target_scale["std"], y[train].std(0, ddof=1), rtol=1e-4)
    assert not np.allclose(datamodule.target_scale["mean"], y.mean(0), rtol=1e-6)
    # the examples' targets stay in their units; only the Regressor standardises them
    assert torch.equal(datamodule.y, data.y)


def test_k_fold_on_numbers_is_plain_k_fold_with_a_fixed_test_split() -> None:
    from tunelab.data.splits import split_indices

    values = np.random.default_rng(0).normal(size=(50, 1))  # every value distinct: no strata
    folds = [
        split_indices(values, 0.2, 0.2, 1, fold=k, num_folds=4, stratify=False) for k in range(4)
    ]
    assert all(np.array_equal(f["test"], folds[0]["test"]) for f in folds)
    validation = np.concatenate([f["val"] for f in folds])
    assert len(validation) == len(set(validation)) == 40  # each non-test row validates once
    assert all(not set(f["train"]) & set(f["val"]) for f in folds)


def test_a_numeric_target_under_classification_asks_for_task_regression(tmp_path) -> None:
    table = write_houses(tmp_path / "houses.csv")
    with pytest.raises(DataError, match=r"'price' holds \d+ distinct numbers.*add task=regression"):
        load_csv(str(table), "price", ["city"], ["tax"])
    # a few integer codes are classes
    frame = pd.read_csv(table).assign(rating=lambda f: (f["x2"] // 2).astype(int))
    frame.to_csv(tmp_path / "rated.csv", index=False)
    data = load_csv(str(tmp_path / "rated.csv"), "rating", ["city"], ["price", "tax"])
    assert data.task == "classification" and data.classes == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.assign(price=f["price"].astype(str).where(f.index != 3, "1,200$")),
            "the target column 'price' is not numeric (e.g. '1,200$'): task=regression predicts numbers",
        ),
        (
            lambda f: f.assign(price=f["price"].where(f.index != 4)),
            "the target column 'price' is empty in 1 row(s) (line 6)",
        ),
    ],
)
def test_a_target_regression_cannot_learn_is_named(tmp_path, change, message) -> None:
    path = tmp_path / "bad.csv"
    change(pd.read_csv(write_houses(tmp_path / "houses.csv"))).to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_csv(str(path), "price", ["city"], ["tax"], task="regression")
    assert message in str(error.value) and str(path) in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["objective.metric=val/acc"], "objective.metric=val/acc: allowed: val/loss, val/mae"),
        (
            ["loss=cross_entropy"],
            "torch.nn.CrossEntropyLoss is a classification loss; task=regression",
        ),
        (["regularization.label_smoothing=0.1"], "label_smoothing is for classification"),
        (["scheduler=plateau", "scheduler.monitor=val/f1"], "scheduler.monitor=val/f1: allowed"),
    ],
)
def test_a_setting_that_does_not_fit_regression_is_one_line(overrides, message) -> None:
    from tunelab.jobs.checks import config_problems

    problems = config_problems(compose_config(["task=regression", *overrides]))
    assert any(message in p for p in problems), problems


def test_classification_losses_and_metrics_are_refused_the_other_way() -> None:
    from tunelab.jobs.checks import config_problems

    problems = config_problems(compose_config(["loss=huber", "objective.metric=val/rmse"]))
    assert any("torch.nn.HuberLoss is a regression loss" in p for p in problems), problems
    assert any(p.startswith("objective.metric=val/rmse: allowed") for p in problems), problems


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=cnn"], "model=cnn needs images"),
        (["data=digits"], "gives class labels, not numbers"),
    ],
)
def test_a_table_for_a_cnn_or_images_for_regression_stop_before_training(
    tmp_path, overrides, message
) -> None:

    table = write_houses(tmp_path / "houses.csv")
    base = [o for o in table_overrides(table) if not o.startswith("model")]
    if overrides[0].startswith("data="):
        base = [o for o in base if not o.startswith("data")] + ["model=mlp"]
    assert message in training_refused([*base, *overrides], tmp_path)


@pytest.mark.process  # a real job process
def test_a_sweep_minimises_validation_rmse_with_optuna(tmp_path) -> None:
    """Two Optuna trials on a table: the study minimises val/rmse (reported per epoch for
    pruning) and the parent's best is the child with the lowest."""
    import optuna
    from mlflow import MlflowClient

    from tunelab.sweeps.pruning import open_storage

    table = write_houses(tmp_path / "houses.csv")
    run_in_process(
        [
            "-m",
            *table_overrides(table),
            "data.source.drop=[tax]",
            "trainer.max_epochs=3",
            "print_config=false",
            "callbacks.progress_bar=null",
            "hydra/sweeper=optuna",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.study_name=houses",
            f"hydra.sweeper.storage={tmp_path}/study.journal",
            "optimizer.lr=choice(1e-4, 3e-2)",
        ],
        tmp_path,
    )
    study = optuna.load_study(
        study_name="houses", storage=open_storage(f"{tmp_path}/study.journal")
    )
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert all(len(t.intermediate_values) == 3 for t in study.trials)  # val/rmse per epoch
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("houses").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 2 and {c.info.status for c in children} == {"FINISHED"}
    for child in children:  # each child's objective is its lowest val/rmse
        history = client.get_metric_history(child.info.run_id, "val/rmse")
        assert child.data.metrics["objective"] == pytest.approx(min(m.value for m in history))
    lowest = min(children, key=lambda c: c.data.metrics["objective"])
    assert parent.data.metrics["best_objective"] == pytest.approx(lowest.data.metrics["objective"])
    assert study.best_value == pytest.approx(lowest.data.metrics["objective"])
    assert parent.data.params["best.run_id"] == lowest.info.run_id
    sweep_files = {
        a.path.split("/")[-1] for a in client.list_artifacts(parent.info.run_id, "sweep")
    }
    assert "validation_curves.png" in sweep_files
