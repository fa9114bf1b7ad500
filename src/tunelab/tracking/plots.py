"""Plots: for sweeps, the objective against each swept parameter and the validation curves of
all trials; for evaluations, the confusion matrix and ROC curves."""

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from tunelab.tracking.trials import Trial  # noqa: E402


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def objective_vs_param(trials: list[Trial], key: str, objective_name: str, path: Path) -> Path:
    """A scatter of the objective over one swept key; a log axis when the values span decades."""
    points = [
        (t.overrides.get(key, ""), t.objective) for t in trials if not math.isnan(t.objective)
    ]
    figure, axis = plt.subplots(figsize=(5, 3.5))
    parsed = [_as_number(v) for v, _ in points]
    numbers = [n for n in parsed if n is not None]
    if points and len(numbers) == len(points):
        axis.scatter(numbers, [o for _, o in points])
        positive = [n for n in numbers if n > 0]
        if len(positive) == len(numbers) and max(positive) / min(positive) >= 100:
            axis.set_xscale("log")
    else:  # group choices and other categories
        labels = sorted({str(v) for v, _ in points})
        axis.scatter([labels.index(str(v)) for v, _ in points], [o for _, o in points])
        axis.set_xticks(range(len(labels)), labels)
    axis.set_xlabel(key)
    axis.set_ylabel(objective_name)
    axis.set_title(f"{objective_name} against {key}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def validation_curves(
    client: MlflowClient, trials: list[Trial], metric: str, label_keys: list[str], path: Path
) -> Path:
    """Every trial's per-epoch curve of `metric` on one chart, labelled by its swept values."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for trial in trials:
        history = client.get_metric_history(trial.run_id, metric)
        if history:
            steps = [m.step for m in history]
            swept = " ".join(f"{k}={trial.overrides.get(k)}" for k in label_keys)
            axis.plot(steps, [m.value for m in history], label=f"#{trial.number} {swept}"[:60])
    axis.set_xlabel("epoch")
    axis.set_ylabel(metric)
    axis.set_title(f"{metric}, all trials")
    if axis.lines and len(trials) <= 12:
        axis.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def confusion_matrix_plot(counts: Any, classes: list[str], path: Path) -> Path:
    """Counts of [true class, predicted class], with the count written in each cell."""
    size = max(4.0, 0.5 * len(classes) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046)
    ticks = range(len(classes))
    axis.set_xticks(ticks, classes, rotation=45, ha="right")
    axis.set_yticks(ticks, classes)
    threshold = float(counts.max()) / 2
    for true in ticks:
        for predicted in ticks:
            value = int(counts[true][predicted])
            colour = "white" if value > threshold else "black"
            axis.text(
                predicted, true, str(value), ha="center", va="center", color=colour, fontsize=8
            )
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title("confusion matrix (test)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def roc_curves_plot(probabilities: Any, targets: Any, classes: list[str], path: Path) -> Path:
    """One-vs-rest ROC curve of each class, its AUC in the legend."""
    from torchmetrics.functional.classification import multiclass_auroc, multiclass_roc

    fpr, tpr, _ = multiclass_roc(probabilities, targets, len(classes))
    auc = multiclass_auroc(probabilities, targets, len(classes), average=None)
    figure, axis = plt.subplots(figsize=(6, 5))
    for i, name in enumerate(classes):
        axis.plot(fpr[i], tpr[i], label=f"{name} (AUC {float(auc[i]):.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title("ROC, one class against the rest (test)")
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
