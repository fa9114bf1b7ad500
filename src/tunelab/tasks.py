"""The tasks (classification, regression), each declared once: the metrics it logs for train,
val and test ({name: (a torchmetrics class's name or a class's dotted path, arguments)}), the
losses it trains with, the metric eval.py reports first, the one trade-off plots draw, and the
columns of its predictions.

Add a metric with one line in its task's table; it is then logged as train/NAME, val/NAME and
test/NAME (and as VARIANT/test_NAME by export.py), and can be the objective or a callback's
monitor. Regression metrics are computed in the target's units; with several targets, MAE
and RMSE are also logged per target (test/rmse/price) and NAME is their mean in standard
deviations, unit-free (tunelab.training.metrics.summarise). No torch import: config checks and
the MLflow writer read this module.
"""

from dataclasses import dataclass

CLASSIFICATION_METRICS: dict[str, tuple[str, dict]] = {
    "acc": ("Accuracy", {}),
    "f1": ("F1Score", {"average": "macro"}),
    # torchmetrics' exact AUROC, computed quicker (RankAUROC's docstring says how)
    "auroc": ("tunelab.training.metrics.RankAUROC", {"average": "macro"}),
}
REGRESSION_METRICS: dict[str, tuple[str, dict]] = {
    "mae": ("MeanAbsoluteError", {}),
    "rmse": ("MeanSquaredError", {"squared": False}),
    "r2": ("R2Score", {}),
}


@dataclass(frozen=True)
class Task:
    metrics: dict[str, tuple[str, dict]]
    losses: tuple[str, ...]  # the `_target_`s of conf/loss this task trains with
    headline: str  # eval.py's return value (a sweep of evaluations compares it): test/NAME
    quality: str  # what plots of quality against size draw (higher is better)
    quality_label: str


TASKS: dict[str, Task] = {
    "classification": Task(
        CLASSIFICATION_METRICS,
        losses=("torch.nn.CrossEntropyLoss",),
        headline="acc",
        quality="acc",
        quality_label="test accuracy",
    ),
    "regression": Task(
        REGRESSION_METRICS,
        losses=(
            "torch.nn.MSELoss",
            "torch.nn.L1Loss",
            "torch.nn.HuberLoss",
            "torch.nn.SmoothL1Loss",
        ),
        headline="rmse",
        quality="r2",
        quality_label="test R²",
    ),
}
METRICS = {name: task.metrics for name, task in TASKS.items()}
LOSSES = {name: task.losses for name, task in TASKS.items()}
QUALITY_LABEL = {name: task.quality_label for name, task in TASKS.items()}
# An export's test metrics per task (tunelab.export.measure), logged as VARIANT/NAME.
EXPORT_TEST_METRICS = {
    name: tuple(f"test_{m}" for m in task.metrics) for name, task in TASKS.items()
}


def monitorable(task: str) -> tuple[str, ...]:
    """Every metric a run of `task` logs each epoch: any can be the objective or a monitor."""
    names = ("loss", *METRICS.get(task, {}))
    return tuple(f"{stage}/{name}" for stage in ("val", "train") for name in names)


def headline(task: str, split: str = "test") -> str:
    """The metric eval.py returns for a model of `task` (test/acc, test/rmse); on `split`, the
    same metric of another split (a baseline is judged by val/acc, val/rmse)."""
    return f"{split}/{TASKS[task].headline}"


def output_names(metadata: dict) -> list[str]:
    """A checkpoint's prediction columns (its metadata: tunelab.inference.checkpoint): one per class
    (probabilities), or one per regression target (values in its units)."""
    return list(metadata.get("targets") or metadata["classes"])
