"""Every experiment and debug config composes and runs its smallest form."""

import pytest

from tests.conftest import CONF, compose_config, run_in_process
from tests.data_factory import write_cifar10, write_idx, write_library_docs

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
DEBUGS = sorted(p.stem for p in (CONF / "debug").glob("*.yaml"))


def runs_of(root, experiment: str) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    found = client.search_runs(
        [client.get_experiment_by_name(experiment).experiment_id], max_results=100
    )
    return [r for r in found if "mlflow.parentRunId" in r.data.tags], client


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_pins_its_choices(name: str) -> None:
    cfg = compose_config([f"experiment={name}"])
    assert cfg.tracking.experiment == name


def test_every_experiment_runs_one_batch(tmp_path) -> None:
    write_idx(tmp_path / "data" / "MNIST" / "raw")
    write_cifar10(tmp_path / "data")
    write_library_docs(tmp_path / "data")
    # debug=fast: one batch of train, val and test; bf16 on the CPU for cifar10_resnet18's config
    args = [
        "-m",
        f"experiment={','.join(EXPERIMENTS)}",
        "debug=fast",
        "print_config=false",
        "callbacks.progress_bar=null",
    ]
    run_in_process(args, tmp_path)
    children, _ = runs_of(tmp_path, "debug")
    assert sorted(r.data.params["experiment"] for r in children) == EXPERIMENTS
    assert all(r.info.status == "FINISHED" for r in children)
    for child in children:  # a classifier's test metrics, or a regression's
        regression = child.data.params["task"] == "regression"
        assert ("test/rmse" if regression else "test/acc") in child.data.metrics


def test_every_debug_config_runs(tmp_path) -> None:
    run_in_process(
        ["-m", f"debug={','.join(DEBUGS)}", "print_config=false", "callbacks.progress_bar=null"],
        tmp_path,
    )
    children, client = runs_of(tmp_path, "debug")
    by_name = {r.data.tags["debug"]: r for r in children}
    assert sorted(by_name) == DEBUGS
    assert all(r.info.status == "FINISHED" for r in children)
    assert by_name["overfit"].data.metrics["train/loss"] < 0.05  # two batches learnt by heart
    assert by_name["fast"].data.metrics["epochs_trained"] == 1
    assert [a.path for a in client.list_artifacts(by_name["profile"].info.run_id, "profile")]
    assert by_name["anomaly"].data.params["debug"] == "anomaly"
