"""The tasks (classification, regression): the metrics each logs for train, val and test, by
name: {name: (torchmetrics class, arguments)}, and the columns of its predictions.

Add a metric with one line here; it is then logged as train/NAME, val/NAME and test/NAME and
can be the objective or a callback's monitor. Regression metrics are computed in the target's
units, over several targets averaged uniformly (as R² averages them). (No torch import: config
checks and the MLflow writer read these.)
"""

CLASSIFICATION_METRICS: dict[str, tuple[str, dict]] = {
    "acc": ("Accuracy", {}),
    "f1": ("F1Score", {"average": "macro"}),
    "auroc": ("AUROC", {"average": "macro"}),
}
REGRESSION_METRICS: dict[str, tuple[str, dict]] = {
    "mae": ("MeanAbsoluteError", {}),
    "rmse": ("MeanSquaredError", {"squared": False}),
    "r2": ("R2Score", {}),
}
METRICS = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}

TASKS = tuple(METRICS)

# An export's test metrics per task (tunelab.ship.measure), logged as VARIANT/NAME; the first
# is what its trade-off plots draw against size, with this label.
EXPORT_TEST_METRICS = {
    "classification": ("test_acc", "test_f1"),
    "regression": ("test_r2", "test_rmse", "test_mae"),
}
QUALITY_LABEL = {"classification": "test accuracy", "regression": "test R²"}


def monitorable(task: str) -> tuple[str, ...]:
    """Every metric a run of `task` logs each epoch: any can be the objective or a monitor."""
    names = ("loss", *METRICS.get(task, {}))
    return tuple(f"{stage}/{name}" for stage in ("val", "train") for name in names)


def output_names(recipe: dict) -> list[str]:
    """A checkpoint's prediction columns (its recipe: tunelab.checkpoints): one per class
    (probabilities), or one per regression target (values in its units)."""
    return list(recipe.get("targets") or recipe["classes"])
