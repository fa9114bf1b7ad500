"""One MLflow run per training job: created with its params and tags, ended with a status."""

from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from tunelab.tracking.params import as_params

MLFLOW_BATCH = 100  # MLflow's log_batch takes at most 100 params or tags per call


def sqlite_artifact_root(uri: str) -> str | None:
    """Artifacts of a SQLite store live beside the database file, not in the current folder."""
    if not uri.startswith("sqlite:///"):
        return None  # a server or database decides where its artifacts go
    return str(Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts")


def experiment_id(client: MlflowClient, name: str, uri: str) -> str:
    """The experiment's id, creating it if needed (safe when parallel trials race to create it)."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=sqlite_artifact_root(uri))
    except MlflowException:  # another process created it first
        created = client.get_experiment_by_name(name)
        if created is None:
            raise
        return created.experiment_id


class TrackedRun:
    """An MLflow run created and finished by tunelab; Lightning's MLFlowLogger logs into it."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str,
        tags: dict[str, str],
        params: dict[str, Any],
        parent_run_id: str | None = None,
    ) -> None:
        self.uri = uri
        self.client = MlflowClient(uri)
        self.experiment_id = experiment_id(self.client, experiment, uri)
        if parent_run_id:
            tags = {**tags, "mlflow.parentRunId": parent_run_id}
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        self.log_params(params)

    def log_params(self, config: dict[str, Any]) -> None:
        params = [Param(k, v) for k, v in as_params(config).items()]
        for start in range(0, len(params), MLFLOW_BATCH):
            self.client.log_batch(self.run_id, params=params[start : start + MLFLOW_BATCH])

    def set_tags(self, tags: dict[str, Any]) -> None:
        items = [RunTag(k, str(v)) for k, v in tags.items()]
        for start in range(0, len(items), MLFLOW_BATCH):
            self.client.log_batch(self.run_id, tags=items[start : start + MLFLOW_BATCH])

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        import time

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), folder)

    def log_dict(self, data: dict[str, Any], file: str) -> None:
        self.client.log_dict(self.run_id, data, file)

    def lightning_logger(self, mode: str = "batched", flush_seconds: float = 5.0):
        """mode: batched (one write every flush_seconds), sync (a write per log call) or async
        (MLflow's background thread)."""
        from tunelab.tracking.buffered_logger import BufferedMLFlowLogger

        flush = 0.0 if mode in ("sync", "async") else flush_seconds
        synchronous = False if mode == "async" else None
        return BufferedMLFlowLogger(
            tracking_uri=self.uri, run_id=self.run_id, flush_seconds=flush, synchronous=synchronous
        )

    def end(self, status: str) -> None:
        """status: FINISHED, FAILED or KILLED."""
        self.client.set_terminated(self.run_id, status)
