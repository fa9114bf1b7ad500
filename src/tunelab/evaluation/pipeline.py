"""`python eval.py`: a trained model evaluated on test data, or predicting on new inputs,
recorded as an MLflow run beside the run that trained it (same experiment, tagged with it).

Everything a user can get wrong (the model named, the data, the input files) is checked
before the evaluation run is created: a mistake ends in one line and leaves no run behind.
The job wrapper (tunelab.jobs.wrapper) checks the config first and ends the run.
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from tunelab.cli.console import print_metrics
from tunelab.data.inputs import read_inputs
from tunelab.evaluation.evaluate import evaluate, predictions_table, test_data, write_evaluation
from tunelab.inference.checkpoint import TrainedModel
from tunelab.tasks import headline

if TYPE_CHECKING:  # the handle the job wrapper passes; the wrapper imports this module
    from tunelab.jobs.wrapper import Job


def evaluate_or_predict(cfg: DictConfig, job: "Job") -> float:
    """The model named in cfg, then evaluate (mode=evaluate: its task's headline metric) or
    predict (mode=predict: NaN, there is nothing to compare)."""
    output_dir = Path(job.output_dir)
    model = job.selected_model(output_dir / "model")
    if cfg.mode == "predict":
        predict_inputs(cfg, job, model, output_dir)
        return math.nan
    evaluate_model(cfg, job, model, output_dir)
    job.objective_name = headline(model.task)
    return job.results.get(headline(model.task), math.nan)


def evaluate_model(cfg: DictConfig, job: "Job", model: TrainedModel, output_dir: Path) -> None:
    datamodule, data_name = test_data(model, cfg.get("data"))
    result = evaluate(model, datamodule)
    files = write_evaluation(result, model, output_dir)
    if cfg.get("explain"):  # why it decides: tunelab.evaluation.explain
        from tunelab.evaluation.explain import explain

        files += explain(model, datamodule, output_dir, int(cfg.get("explain_repeats", 5)))
    tags = {"data": data_name, "data.test_size": str(len(result.targets))}
    run = job.open_run_beside(model, "evaluate", tags)
    run.log_metrics(result.metrics)
    for file in files:
        run.log_artifact(file)
    job.results = result.metrics
    if not job.in_sweep:  # a sweep's trial prints one line when it ends
        print_metrics(result.metrics, f"evaluation on {data_name}")
        print(result.detail.to_string(index=False, float_format="%.4f"))


def predict_inputs(cfg: DictConfig, job: "Job", model: TrainedModel, output_dir: Path) -> None:
    ids, x = read_inputs(cfg.input, model.preprocess)
    table = predictions_table(ids, model.outputs(x), model)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "predictions.csv"
    table.to_csv(path, index=False)
    files = [path]
    if cfg.get("explain"):  # the attributions of each input (tunelab.evaluation.explain)
        from tunelab.evaluation.explain import explain_inputs

        files += explain_inputs(model, x, ids, output_dir)
    run = job.open_run_beside(model, "predict", {"input": str(Path(cfg.input).resolve())})
    run.log_metrics({"predictions": float(len(ids))})
    for file in files:
        run.log_artifact(file)
    job.results = {"predictions": float(len(ids))}
    if not job.in_sweep:
        print(f"{len(ids)} predictions written to {path}")
