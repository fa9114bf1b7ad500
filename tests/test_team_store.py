"""A team store: a real PostgreSQL server holding the runs (behind a real `mlflow server` that
proxies the artifacts into its own folder) and the Optuna study; a study with two parallel
workers writes into both. A database that does not answer is one line before any run."""

import os
import shutil
from pathlib import Path

import pytest

from scripts.services import free_port
from tests.conftest import run_entry

pytestmark = pytest.mark.service  # starts PostgreSQL and an MLflow server: make test-fast skips it

EPOCHS = 2
TRIALS = 2  # one per worker: both write at once
SWEEP = [
    *("model=mlp", "model.hidden_dim=32", "print_config=false", "callbacks.progress_bar=null"),
    *(f"trainer.max_epochs={EPOCHS}", "callbacks.early_stopping=null", "tracking.experiment=team"),
    *("hydra/sweeper=optuna", "hydra.sweeper.study_name=team", "hydra/sweeper/pruner=none"),
    *(f"hydra.sweeper.n_trials={TRIALS}", "hydra.sweeper.n_jobs=2"),
    *("hydra/launcher=joblib", "hydra.launcher.n_jobs=2"),
    "optimizer.lr=tag(log, interval(1e-3, 1e-2))",
]


@pytest.fixture(scope="module")
def team_store(tmp_path_factory):
    """PostgreSQL and an MLflow server on it, started as `make services` starts them."""
    from scripts import services

    try:
        services.postgres_program("initdb")
    except SystemExit as missing:
        if os.environ.get("CI"):  # .ci/run installs the server: missing there is a failure
            raise
        pytest.skip(str(missing))
    folder = tmp_path_factory.mktemp("services")
    started = services.start(folder)
    yield started, folder
    services.stop(started)
    shutil.rmtree(Path(started.data).parent, ignore_errors=True)


def test_a_parallel_study_lands_in_postgresql_and_the_server(team_store, tmp_path) -> None:
    import optuna
    from mlflow import MlflowClient

    store, folder = team_store
    storage = f"hydra.sweeper.storage={store.optuna_storage}"
    run_entry(["-m", *SWEEP, storage, f"tracking.uri={store.tracking_uri}"], tmp_path)

    study = optuna.load_study(study_name="team", storage=store.optuna_storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * TRIALS
    assert all(sorted(t.intermediate_values) == list(range(EPOCHS)) for t in study.trials)

    client = MlflowClient(store.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("team").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == TRIALS and parent.info.status == "FINISHED"
    assert len({c.data.tags["process"] for c in children}) == 2  # two workers wrote at once
    for child in children:
        assert child.info.status == "FINISHED"
        for name in ("train/loss", "train/acc", "val/loss", "val/acc", "val/f1"):
            history = client.get_metric_history(child.info.run_id, name)
            assert [m.step for m in history] == list(range(EPOCHS)), name
        assert "test/acc" in child.data.metrics
        listed = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"checkpoints", "config.yaml", "train.log"} <= listed
        assert child.outputs.model_outputs, "each trial logged its model"
    # the artifacts went through the server into its folder, not into this machine's runs
    run_id = children[0].info.run_id
    best = client.download_artifacts(run_id, "checkpoints/best.ckpt", str(tmp_path))
    assert Path(best).stat().st_size > 10_000
    assert len(list((folder / "artifacts").rglob("checkpoints/best.ckpt"))) == TRIALS  # runs'
    assert len(list((folder / "artifacts").rglob("models/*/artifacts/MLmodel"))) == TRIALS
    assert parent.data.tags["registered_model"] == "team version 1"
    assert not (tmp_path / "mlflow.db").exists()


def test_a_database_that_does_not_answer_is_one_line_before_any_run(tmp_path) -> None:
    closed = f"postgresql://tunelab:secret@127.0.0.1:{free_port()}/optuna"
    args = ["-m", "hydra/sweeper=optuna", f"hydra.sweeper.storage={closed}", "optimizer.lr=0.1"]
    result = run_entry(args, tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"tunelab: hydra.sweeper.storage={closed.replace('secret', '***')}: connection refused: "
        f"no database server listens at {closed.split('@')[1].split('/')[0]}: "
        "start the database or fix the URL"
    )
    assert not (tmp_path / "mlflow.db").exists()  # no sweep run opened


def test_a_tracking_database_that_does_not_answer_is_named() -> None:
    from tunelab.tracking.reachable import store_problem

    port = free_port()
    assert store_problem(f"postgresql+psycopg://u@127.0.0.1:{port}/mlflow") == (
        f"connection refused: no database server listens at 127.0.0.1:{port}"
    )
    assert "not found" in store_problem("mysql://u@db.invalid/mlflow")
