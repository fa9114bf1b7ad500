"""The MLflow store: the experiment a run or sweep lands in, where its artifacts go, and
writes that keep to MLflow's limits (mlflow.utils.validation), in one place."""

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from tunelab.tracking.new_sqlite import seed_new_store
from tunelab.tracking.reachable import StoreProblem, sqlite_database, store_problem

MAX_KEY = 250  # a param, tag or metric key
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_RUN_NAME = 250
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000


def clip(text: str, limit: int) -> str:
    """text, cut to `limit` characters with "..." when longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def log_batch(
    client: MlflowClient,
    run_id: str,
    metrics: Sequence[Metric] | Mapping[str, float] = (),
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
) -> None:
    """client.log_batch within MLflow's limits: keys and values clipped, items in chunks.
    `metrics` as a mapping are logged now, at step 0."""
    if isinstance(metrics, Mapping):
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
    items = [
        *(Param(k[:MAX_KEY], clip(str(v), MAX_PARAM_VALUE)) for k, v in (params or {}).items()),
        *(RunTag(k[:MAX_KEY], clip(str(v), MAX_TAG_VALUE)) for k, v in (tags or {}).items()),
    ]
    for start in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
        chunk = items[start : start + MAX_PARAMS_TAGS_PER_BATCH]
        client.log_batch(
            run_id,
            params=[i for i in chunk if isinstance(i, Param)],
            tags=[i for i in chunk if isinstance(i, RunTag)],
        )
    for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=list(metrics[start : start + MAX_METRICS_PER_BATCH]))


def sqlite_artifact_root(uri: str) -> str | None:
    """Artifacts of a SQLite store live beside the database file, not in the current folder."""
    database = sqlite_database(uri)
    if database is None:
        return None  # a server or database decides where its artifacts go
    return str(database.resolve().parent / "mlartifacts")


# A new experiment's description (its note) and kind: model training, not a GenAI app.
EXPERIMENT_TAGS = {
    "mlflow.note.content": (
        "Runs of tunelab's `train.py`: each training run is named after its model, optimizer, "
        "learning rate and data; a sweep is a parent run (its note tells the search and links "
        "the best trial) with a child run per trial, whose tag `trial.state` says finished, "
        "pruned or failed; `eval.py` and `export.py` runs are nested under the run whose model "
        "they used. Every run holds its resolved `config.yaml`, its knobs as params and its "
        "model."
    ),
    "mlflow.experimentKind": "custom_model_development",
}


def experiment_id(client: MlflowClient, name: str, uri: str) -> str:
    """The experiment's id, creating it if needed (safe when parallel trials race to create it)."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    try:
        return client.create_experiment(
            name, artifact_location=sqlite_artifact_root(uri), tags=EXPERIMENT_TAGS
        )
    except MlflowException:  # another process created it first
        created = client.get_experiment_by_name(name)
        if created is None:
            raise
        return created.experiment_id


def open_store(uri: str) -> MlflowClient:
    """A client on `uri` whose store exists: a problem found in seconds raises StoreProblem;
    a new SQLite store's tables are created by one process at a time. (Two processes creating
    one store together race MLflow's migrations: "duplicate column name: step".)"""
    if problem := store_problem(uri):
        raise StoreProblem(problem)
    database = sqlite_database(uri)
    with _creation_lock(database):
        if database is not None:
            seed_new_store(database)
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)  # opens the store: creates or migrates it
    return client


@contextmanager
def _creation_lock(database: Path | None) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; start sweeps one at a time
        fcntl = None  # type: ignore[assignment]
    if database is None or fcntl is None:
        yield
        return
    with open(f"{database}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
