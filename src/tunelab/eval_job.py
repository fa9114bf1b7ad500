"""`python eval.py`: a trained model evaluated on test data, or predicting on new inputs,
recorded as an MLflow run beside the run that trained it (same experiment, tagged with it).

Everything a user can get wrong (the model named, the data, the input files) is checked
before the evaluation run is created: a mistake ends in one line and leaves no run behind.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from omegaconf import DictConfig

from tunelab.checkpoints import TrainedModel, load_model
from tunelab.console import print_metrics, print_run
from tunelab.errors import UserError
from tunelab.evaluate import evaluate, predictions_table, test_data, write_evaluation
from tunelab.inputs import read_inputs
from tunelab.tracking.models import download_checkpoint, quiet_model_logging
from tunelab.tracking.reachable import StoreProblem
from tunelab.tracking.store import experiment_id, log_batch, open_store


def evaluate_or_predict(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """The model named in cfg, then evaluate (mode=evaluate) or predict (mode=predict)."""
    client, model = selected_model(cfg, output_dir / "model")
    if cfg.mode == "predict":
        return predict_inputs(cfg, client, model, output_dir)
    return evaluate_model(cfg, client, model, output_dir)


def selected_model(cfg: DictConfig, folder: Path) -> tuple[MlflowClient, TrainedModel]:
    """The store and the model cfg names (ckpt_path, run_id or model_uri), its checkpoint
    downloaded into `folder` when it is in the store."""
    with quiet_model_logging():  # no migration lines, no progress bars
        try:
            client = open_store(cfg.tracking.uri)
        except StoreProblem as problem:
            raise UserError(f"tracking.uri={cfg.tracking.uri}: {problem}") from None
        checkpoint = download_checkpoint(client, cfg.ckpt_path, cfg.run_id, cfg.model_uri, folder)
    return client, load_model(checkpoint)


def evaluate_model(
    cfg: DictConfig, client: MlflowClient, model: TrainedModel, output_dir: Path
) -> dict[str, float]:
    datamodule, data_name = test_data(model, cfg.get("data"))
    result = evaluate(model, datamodule)
    files = write_evaluation(result, model, output_dir)
    tags = {
        "tunelab.task": "evaluate",
        "data": data_name,
        "data.test_size": str(len(result.targets)),
    }
    with evaluation_run(client, cfg, model, "eval", tags) as run_id:
        log_batch(client, run_id, metrics=result.metrics)
        for file in files:
            client.log_artifact(run_id, str(file))
    print_metrics(result.metrics, f"evaluation on {data_name}")
    print(result.detail.to_string(index=False, float_format="%.4f"))
    print_run(run_id, client.get_run(run_id).info.experiment_id, cfg.tracking.uri)
    return result.metrics


def predict_inputs(
    cfg: DictConfig, client: MlflowClient, model: TrainedModel, output_dir: Path
) -> dict[str, float]:
    ids, x = read_inputs(cfg.input, model.preprocess)
    table = predictions_table(ids, model.outputs(x), model)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "predictions.csv"
    table.to_csv(path, index=False)
    tags = {"tunelab.task": "predict", "input": str(Path(cfg.input).resolve())}
    with evaluation_run(client, cfg, model, "predict", tags) as run_id:
        log_batch(client, run_id, metrics={"predictions": float(len(ids))})
        client.log_artifact(run_id, str(path))
    print(f"{len(ids)} predictions written to {path}")
    print_run(run_id, client.get_run(run_id).info.experiment_id, cfg.tracking.uri)
    return {"predictions": float(len(ids))}


@contextmanager
def evaluation_run(
    client: MlflowClient,
    cfg: DictConfig,
    model: TrainedModel,
    kind: str,
    tags: dict,
    sweep: tuple[str, str] | None = None,
) -> Iterator[str]:
    """A run in the source run's experiment, tagged with it; FINISHED, or FAILED on an error.
    sweep: (parent run id, trial name) of a multirun's trial, a child in its parent's experiment."""
    source = model.recipe.get("run_id")
    source_run = source_run_or_none(client, source)
    if source_run is not None:
        experiment, name = source_run.info.experiment_id, source_run.info.run_name
    else:  # a checkpoint from elsewhere: the experiment it was trained in, by name
        experiment_name = model.config.get("tracking", {}).get(
            "experiment", cfg.tracking.experiment
        )
        experiment = experiment_id(client, experiment_name, cfg.tracking.uri)
        name = Path(cfg.ckpt_path or "model").stem
    links = {
        "tunelab.source_run": source or "unknown",
        "mlflow.note.content": description(kind, source, name),
    }
    run_name = f"{kind}-{name}"
    if sweep is not None:
        parent, run_name = sweep
        experiment = client.get_run(parent).info.experiment_id
        links["mlflow.parentRunId"] = parent
    run = client.create_run(experiment, run_name=run_name, tags={**tags, **links})
    try:
        yield run.info.run_id
    except BaseException as error:
        client.set_tag(run.info.run_id, "error", f"{type(error).__name__}: {error}")
        client.set_terminated(run.info.run_id, "FAILED")
        raise
    client.set_terminated(run.info.run_id, "FINISHED")


def source_run_or_none(client: MlflowClient, run_id: str | None) -> Any:
    if not run_id:
        return None
    try:
        return client.get_run(run_id)
    except Exception:  # the checkpoint's run lives in another store
        return None


def description(kind: str, source: str | None, name: str) -> str:
    what = {"eval": "Evaluation", "predict": "Predictions", "export": "Exported files"}[kind]
    return f"{what} of the model trained by run {name} ({source or 'not tracked here'})."
