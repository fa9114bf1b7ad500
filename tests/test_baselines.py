"""python baseline.py: scikit-learn models on the split a network's run uses, logged alike."""

import pytest

from tests.conftest import in_store, job_refused, store_uri, train_in_process
from tests.data_factory import write_csv


def baseline_in_process(overrides: list[str], root):
    """What `python baseline.py OVERRIDES` does, in this process, its store under `root`."""
    from tunelab.jobs.specs import BASELINE
    from tunelab.jobs.wrapper import run_job
    from tunelab.training.rerun import compose_train

    common = [f"paths.root_dir={root}", f"tracking.uri={store_uri(root)}", "tracking.writer=inline"]
    cfg = compose_train([*common, *overrides], str(root / "outputs" / "baseline"), "baseline")
    return run_job(cfg, BASELINE)


def test_a_baseline_uses_the_networks_test_rows_and_its_metric_names(tmp_path) -> None:
    import mlflow
    import numpy as np
    from mlflow import MlflowClient

    table = tmp_path / "species.csv"
    write_csv(table)
    data = [
        "data=csv",
        f"data.source.path={table}",
        "data.source.target=species",
        "data.source.categorical=[colour]",
        "data.source.drop=[id]",
        "task=classification",
    ]
    network = train_in_process([*data, "model=mlp", "trainer.max_epochs=2"], tmp_path)
    forest = baseline_in_process([*data, "estimator=random_forest"], tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    ours, theirs = (client.get_run(j.run.run_id).data for j in (network, forest))
    for tag in ("data.fingerprint", "data.train_size", "data.val_size", "data.test_size"):
        assert ours.tags[tag] == theirs.tags[tag], tag  # the same data, the same split
    tests = {m for m in ours.metrics if m.startswith("test/") and m != "test/loss"}
    assert tests <= set(theirs.metrics) and "objective" in theirs.metrics
    assert theirs.metrics["test/acc"] > 0.6  # the species follow the size (chance: 1/3)
    assert theirs.params["estimator"] == "random_forest"
    mlflow.set_tracking_uri(store_uri(tmp_path))
    loaded = mlflow.sklearn.load_model(f"runs:/{forest.run.run_id}/model")
    assert loaded.predict(np.zeros((2, loaded.n_features_in_))).shape == (2,)
    # eval.py reads networks: a baseline's run is one line, and no evaluation run is left
    experiments = [e.experiment_id for e in client.search_experiments()]
    before = {r.info.run_id for r in client.search_runs(experiments)}
    eval_args = [*in_store(tmp_path), f"run_id={forest.run.run_id}", "explain=true"]
    message = job_refused("eval", eval_args, tmp_path / "eval")
    assert "is a baseline (random_forest, a scikit-learn model)" in message
    assert {r.info.run_id for r in client.search_runs(experiments)} == before  # no eval run


@pytest.mark.parametrize("estimator", ["linear", "gradient_boosting", "svm"])
def test_each_estimator_fits_a_regression(tmp_path, estimator) -> None:
    job = baseline_in_process([f"estimator={estimator}"], tmp_path)  # diabetes, regression
    assert set(job.results) >= {"test/rmse", "test/mae", "test/r2", "val/rmse"}
    assert job.results["test/r2"] > 0.1


def test_images_are_refused_with_one_line(tmp_path) -> None:
    with pytest.raises(SystemExit) as stopped:
        baseline_in_process(["data=digits", "task=classification"], tmp_path)
    assert "baseline.py fits tables" in str(stopped.value) and "\n" not in str(stopped.value)


def test_a_sweep_of_baselines_is_one_parent_and_registers_no_model(tmp_path) -> None:
    from mlflow import MlflowClient

    from tests.conftest import run_in_process

    done = run_in_process(["-m", "estimator=linear,svm"], tmp_path, script="baseline.py")
    assert "best trial #0, val/rmse " in done.stdout  # one fit: no "_best" over epochs
    assert "trial #1 svm: finished, val/rmse " in done.stdout  # the same name on its own line
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.info.run_name for r in runs if r is not parent}
    assert children == {"#0 linear", "#1 svm"} and parent.data.metrics["trials_finished"] == 2
    assert client.search_registered_models() == []  # the champion stays a network
