"""MLflow models of tunelab runs: the best checkpoint logged as a pyfunc model, registered
under a name, and the registry alias that follows the best sweep (`champion`).

log_checkpoint_model runs in the writer process, which has MLflow loaded; it never imports
torch, so the training process does not wait for a second torch import.
"""

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from tunelab.errors import UserError
from tunelab.tasks import output_names
from tunelab.tracking.selection import model_selector_error

# What a served or loaded model imports: tunelab.inference.checkpoint, its network and inputs.
RUNTIME_PACKAGES = ("torch", "torchvision", "hydra-core", "omegaconf", "numpy", "pandas")
# The step MLflow's log_model takes the model's metrics from: it logs every metric the run
# logged at that step (0 by default) again with the model's id. A tunelab run's step is its
# epoch, so a model showed its run's first epoch's train and val values (and the first
# system-metrics sample) as its own, beside the test metrics of the best epoch's checkpoint.
# Nothing is logged at -1: a model carries only what link_metrics gives it, its test metrics.
NO_STEP = -1


def prepare_model_logging(estimators: bool = False) -> None:
    """What logging a model needs, prepared when the run opens (the writer is idle while the
    model trains), so that at the end the training process waits for the logging alone;
    estimators: a scikit-learn model's too (skops: about 3 s to import)."""
    import mlflow.models  # noqa: F401
    import mlflow.pyfunc  # noqa: F401
    from mlflow.utils import requirements_utils

    if estimators:
        import mlflow.sklearn  # noqa: F401
        import skops.io  # noqa: F401

    # MLflow checks the model's requirements against the environment through a map of every
    # installed file (1.1 s here), built once per process and cached: build it now. Private
    # API, hence the getattr: without it the check only costs its time at the end.
    getattr(requirements_utils, "_init_modules_to_packages_map", lambda: None)()
    requirements()  # reading the packages' metadata: 0.2 s


class PyfuncWithoutServingCheck:
    """mlflow.pyfunc as the flavor of Model.log, less the check of the input example that
    Model.log runs after saving: it loads the model, which imports torch in the writer (2 s of
    CPU beside the training, measured +1 to +2 s on the run's wall time). The suite checks the
    logged model's predictions on raw inputs instead. Model.log takes any object with a
    save_model as its flavor; `validate_serving_input` is the switch it reads from the kwargs
    it also hands to save_model, which mlflow.pyfunc.save_model would refuse."""

    __name__ = "mlflow.pyfunc"

    @staticmethod
    def save_model(validate_serving_input: bool = False, **kwargs: Any) -> Any:
        import mlflow.pyfunc

        return mlflow.pyfunc.save_model(**kwargs)


@functools.cache
def requirements() -> list[str]:
    """The model's pip requirements at this environment's versions (given, not inferred:
    MLflow's inference loads the model in a subprocess, seconds of torch imports)."""
    return [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]


def signature(facts: dict[str, Any], example: Any) -> Any:
    """Images: a float32 tensor [-1, C, H, W]; tables: the example's columns. Out: one
    probability column per class, or one value column per regression target."""
    import numpy as np
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema, TensorSpec

    if facts["inputs"]["kind"] == "image":
        inputs = Schema([TensorSpec(np.dtype("float32"), (-1, *facts["input_shape"]))])
    else:
        inputs = infer_signature(example).inputs
    outputs = Schema([ColSpec("double", name) for name in output_names(facts)])
    return ModelSignature(inputs=inputs, outputs=outputs)


def log_checkpoint_model(
    uri: str,
    run_id: str,
    experiment_id: str,
    checkpoint: str,
    facts: dict[str, Any],
    example: Any,
    register_as: str | None,
    tags: dict[str, str] | None = None,
) -> Any:
    """Log `checkpoint` as the run's MLflow model "model" (and register it when asked), in the
    run's experiment, with `tags` (over MLflow's own). facts: the checkpoint's task, classes or
    targets, input_shape and inputs record. Returns MLflow's ModelInfo."""
    import mlflow
    from mlflow.models import Model

    import tunelab

    package = Path(tunelab.__file__).parent
    mlflow.set_tracking_uri(uri)  # Model.log works on the tracking URI set in the process
    # ... and creates the logged model in the process's active experiment, the Default one
    # (its artifacts under the working folder's mlruns/) unless the run's is made active.
    mlflow.set_experiment(experiment_id=experiment_id)
    with quiet_model_logging():
        return Model.log(
            artifact_path=None,  # deprecated for `name`, but still positional in Model.log
            name="model",
            flavor=PyfuncWithoutServingCheck,
            flavor_name="pyfunc.ModelFromCode",  # what mlflow.pyfunc.log_model would record
            validate_serving_input=False,
            run_id=run_id,
            python_model=str(
                package / "inference" / "pyfunc.py"
            ),  # a model from code: nothing pickled
            artifacts={"checkpoint": checkpoint},
            code_paths=[str(package)],
            signature=signature(facts, example),
            input_example=example,
            pip_requirements=list(requirements()),
            metadata={
                "task": facts["task"],
                "outputs": output_names(facts),
                "input_shape": facts["input_shape"],
            },
            registered_model_name=register_as or None,
            await_registration_for=0,
            step=NO_STEP,
            tags=tags,
        )


def log_estimator_model(
    uri: str,
    run_id: str,
    experiment_id: str,
    estimator: Any,
    example: Any,
    tags: dict[str, str] | None = None,
) -> Any:
    """Log a fitted scikit-learn `estimator` as the run's MLflow model "model" (scikit-learn
    flavour), its signature inferred from `example`, with `tags`; MLflow's ModelInfo."""
    from importlib.metadata import version

    import mlflow
    import skops.io
    from mlflow.models import infer_signature

    # MLflow saves scikit-learn models with skops, which loads only the types it is told to
    # trust: the baseline's own run fitted it, so its types (a forest's trees) are trusted.
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(estimator))
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment_id=experiment_id)  # as log_checkpoint_model, and why
    with quiet_model_logging():
        # The requirements and the signature given, not inferred: MLflow would load the model
        # in a subprocess for each (about 10 s).
        return mlflow.sklearn.log_model(
            estimator,
            name="model",
            run_id=run_id,
            signature=infer_signature(example, estimator.predict(example)),
            pip_requirements=[
                f"scikit-learn=={version('scikit-learn')}",
                f"skops=={version('skops')}",
            ],
            skops_trusted_types=trusted,
            step=NO_STEP,
            tags=tags,
        )


@contextmanager
def quiet_model_logging() -> Iterator[None]:
    """No progress bars or INFO lines from MLflow (and the store's migrations, alembic) while a
    model is logged beside a training run's console or eval.py opens a store; warnings show."""
    import logging

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def link_metrics(client: MlflowClient, run_id: str, model_id: str, metrics: list[Metric]) -> None:
    """Attach metrics already logged in the run (its test metrics) to the logged model, as
    MLflow's own log_model does for a step's metrics: logged again with the model's id."""
    linked = [Metric(m.key, m.value, m.timestamp, m.step, model_id=model_id) for m in metrics]
    client.log_batch(run_id, metrics=linked)


def run_model_id(client: MlflowClient, run_id: str) -> str | None:
    """The id of the model a run logged, if it logged one."""
    outputs = client.get_run(run_id).outputs
    models = outputs.model_outputs if outputs else []
    return models[-1].model_id if models else None


def logged_since(client: MlflowClient, experiment_id: str, run_id: str, since_ms: int) -> Any:
    """The complete (READY) model the run logged at or after `since_ms`, if any: a LogModel
    sent again to a new writer keeps it rather than logging it twice (a resumed run's older
    model, logged before the request was made, does not count). A model the dead writer left
    half logged (PENDING) is deleted: the store ends as if the writer had not died."""
    from mlflow.entities import LoggedModelStatus

    models = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    recent = [m for m in models if m.creation_timestamp >= since_ms]
    for model in recent:
        if model.status == LoggedModelStatus.PENDING:
            client.delete_logged_model(model.model_id)
    return next((m for m in recent if m.status == LoggedModelStatus.READY), None)


def model_version_of(client: MlflowClient, name: str, model: Any) -> str:
    """The version of registered model `name` that holds `model` (a LoggedModel), registered
    now if the writer that logged it died before registering it."""
    for version in client.search_model_versions(f"name = '{name}'"):
        if version.source in (model.model_uri, model.artifact_location):
            return str(version.version)
    ensure_registered_model(client, name)
    created = client.create_model_version(
        name, model.artifact_location, run_id=model.source_run_id, model_id=model.model_id
    )
    return str(created.version)


def run_model_uri(client: MlflowClient, run_id: str) -> str | None:
    """models:/<id> of the model a run logged, if it logged one."""
    model_id = run_model_id(client, run_id)
    return f"models:/{model_id}" if model_id else None


def register_best(
    client: MlflowClient, name: str, alias: str, run_id: str, objective: float, mode: str
) -> dict[str, str]:
    """Register `run_id`'s model as a new version of `name`; move `alias` to it when it beats
    the version the alias points at (by the runs' `objective` metric, `mode` max or min).
    Returns tags for the sweep's parent run."""
    model_id = run_model_id(client, run_id)
    if model_id is None:
        return {"registered_model": f"not registered: run {run_id} logged no model"}
    ensure_registered_model(client, name)
    # The model's files and id, not its models:/ID URI: the registry looks that URI up through
    # the process's global tracking URI (mlflow's SqlAlchemyStore.create_model_version), which
    # is not this client's store in a sweep whose trials ran in other processes.
    model = client.get_logged_model(model_id)
    version = client.create_model_version(
        name, model.artifact_location, run_id=run_id, model_id=model.model_id
    )
    holder = current_holder(client, name, alias)
    better = holder is None or (objective > holder if mode == "max" else objective < holder)
    if better:
        client.set_registered_model_alias(name, alias, version.version)
    return {
        "registered_model": f"{name} version {version.version}",
        "registered_model.version": str(version.version),
        f"registered_model.{alias}": (
            f"moved to version {version.version}"
            if better
            else f"kept: its objective {holder:.6g} is not beaten by {objective:.6g}"
        ),
    }


def current_holder(client: MlflowClient, name: str, alias: str) -> float | None:
    """The objective of the run behind `name@alias`, None when the alias is not set."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    if version.run_id is None:  # registered from outside a run: nothing to compare with
        return None
    return client.get_run(version.run_id).data.metrics.get("objective")


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    """Create the registered model `name` unless it exists."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)


def download_checkpoint(
    client: MlflowClient,
    ckpt_path: str | None,
    run_id: str | None,
    model_uri: str | None,
    folder: Path,
) -> str:
    """The local checkpoint file of the model a user named: a path, a run's model (or its
    best checkpoint when it logged no model), or a model URI (models:/NAME@ALIAS, ...)."""
    import mlflow

    if problem := model_selector_error(ckpt_path, run_id, model_uri):
        raise UserError(problem)
    if ckpt_path:
        return ckpt_path
    if run_id:
        try:
            run = client.get_run(run_id)
        except MlflowException:
            raise UserError(
                f"run_id={run_id}: no such run in tracking.uri={client.tracking_uri}"
            ) from None
        if estimator := run.data.params.get("estimator"):  # python baseline.py's run
            raise UserError(
                f"run_id={run_id} is a baseline ({estimator}, a scikit-learn model): eval.py "
                "reads networks; its test metrics are in its run, and python compare.py sets it "
                "beside a network's"
            )
        model_uri = run_model_uri(client, run_id)
        if model_uri is None:
            files = [
                a.path
                for a in client.list_artifacts(run_id, "checkpoints")
                if a.path.endswith(".ckpt")
            ]
            if not files:
                raise UserError(
                    f"run_id={run_id} logged no model and no checkpoint "
                    "(tracking.log_model and tracking.log_checkpoint were off)"
                )
            return client.download_artifacts(run_id, files[0], str(folder))
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(folder))
        )
    except MlflowException as error:
        raise UserError(f"model_uri={model_uri}: {error.message}") from None
    checkpoints = sorted(local.glob("artifacts/*.ckpt"))
    if not checkpoints:
        raise UserError(f"model_uri={model_uri} is not a tunelab model: it holds no checkpoint")
    return str(checkpoints[0])
