"""`python baseline.py`: classical scikit-learn models (conf/estimator: linear, random_forest,
gradient_boosting, svm) on a table, on exactly the split `python train.py` uses with the same
data= (the same DataModule, seed and standardised features), logged as an MLflow run with the
same metric names (val/*, test/*, objective), the same dataset inputs and a logged model, so that
the runs table, MLflow's compare view and `python compare.py` put them beside networks.
"""

from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from tunelab.errors import DataError, instantiate
from tunelab.tasks import headline
from tunelab.tracking import TrackedRun


def fit_baseline(cfg: DictConfig, run: TrackedRun) -> tuple[float, dict[str, float]]:
    """Fit the task's estimator on the training rows; the objective (the validation headline
    metric) and the metrics of both held-out splits."""
    from tunelab.data.datamodule import build_datamodule
    from tunelab.training.metrics import measured

    run.prepare_estimator_logging()  # while the data loads and the estimator fits
    datamodule = build_datamodule(cfg.data, cfg.task)
    if datamodule.data.is_image or datamodule.data.is_text:
        raise DataError(
            f"data {datamodule.data.name!r}: baseline.py fits tables (data=csv, diabetes); "
            "for images and text, compare networks with python compare.py"
        )
    estimator = instantiate(cfg.estimator[cfg.task])
    run.log_setup(datamodule, trainer=None)  # waits for the run: a bad store stops here
    x, y = datamodule.x.numpy(), datamodule.data.y.numpy()
    rows = {k: v.numpy() for k, v in datamodule.index.items()}
    targets = y[rows["train"]]
    estimator.fit(
        x[rows["train"]], targets[:, 0] if targets.ndim == 2 and targets.shape[1] == 1 else targets
    )
    outputs = datamodule.data.targets or datamodule.data.classes
    std = datamodule.target_scale["std"] if datamodule.target_scale else None
    metrics: dict[str, float] = {}
    for stage in ("val", "test"):
        predicted = predictions(estimator, x[rows[stage]], cfg.task)
        truth = torch.as_tensor(y[rows[stage]])
        metrics |= measured(cfg.task, outputs, std, stage, predicted, truth)
    objective = metrics[headline(cfg.task, "val")]
    run.log_metrics(metrics)
    run.log_results(objective, epochs=0)
    run.log_estimator(estimator, x[rows["test"]][:5], metrics)
    return objective, metrics


def predictions(estimator: Any, x: np.ndarray, task: str) -> torch.Tensor:
    """Class probabilities [N, classes], or values [N, targets], as a network's."""
    if task == "classification":
        return torch.as_tensor(estimator.predict_proba(x), dtype=torch.float32)
    values = np.asarray(estimator.predict(x), dtype=np.float32)
    return torch.as_tensor(values.reshape(len(x), -1))
