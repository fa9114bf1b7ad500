"""Opening the MLflow store: the experiment a run or sweep lands in, and where its artifacts go."""

from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


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
