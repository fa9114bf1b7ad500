"""Plots in one house style: for evaluations, ROC curves (classification) or predicted against
true values and the residuals (regression); the trade-off of a sweep or an export. A sweep's
own plots are in tunelab.sweeps.plots; the confusion matrix is tunelab.tracking.confusion's."""

import math
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

# One house style for every plot a run or sweep logs (Optuna's too, tracking.study_summary):
# 1,200 x 720 px, type readable at that size, a layout that never clips titles or labels.
STYLE: dict[str, Any] = {
    "figure.figsize": (10, 6),
    "figure.dpi": 120,
    "savefig.dpi": 120,
    "figure.constrained_layout.use": True,
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.labelsize": 12,
    "legend.fontsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
}
matplotlib.rcParams.update(STYLE)  # type: ignore[arg-type]  # the stubs list every key


def set_title(axis: Any, text: str) -> None:
    axis.set_title(textwrap.fill(text, 70))  # wrapped, never clipped


def save_figure(figure: Any, path: Path) -> Path:
    figure.savefig(path)
    plt.close(figure)
    return path


def roc_curves_plot(probabilities: Any, targets: Any, classes: list[str], path: Path) -> Path:
    """One-vs-rest ROC curve of each class, its AUC in the legend."""
    from torchmetrics.functional.classification import multiclass_auroc, multiclass_roc

    fpr, tpr, _ = multiclass_roc(probabilities, targets, len(classes))
    auc = multiclass_auroc(probabilities, targets, len(classes), average=None)
    figure, axis = plt.subplots(figsize=(10, 8))
    for i, name in enumerate(classes):
        axis.plot(fpr[i], tpr[i], label=f"{name} (AUC {float(auc[i]):.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    set_title(axis, "ROC, one class against the rest (test)")
    axis.legend(loc="lower right", ncol=2 if len(classes) > 10 else 1)
    return save_figure(figure, path)


def _per_target_axes(count: int) -> tuple[Any, list[Any]]:
    """One panel per regression target, side by side (up to 3 a row)."""
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns + 1, 5.5 * rows), squeeze=False)
    for extra in axes.flat[count:]:
        extra.set_visible(False)
    return figure, list(axes.flat[:count])


def predicted_vs_true_plot(predictions: Any, targets: Any, names: list[str], path: Path) -> Path:
    """Each test example's predicted value against its true one, the diagonal being perfect."""
    figure, axes = _per_target_axes(len(names))
    for i, (axis, name) in enumerate(zip(axes, names, strict=True)):
        true, predicted = targets[:, i].numpy(), predictions[:, i].numpy()
        axis.scatter(true, predicted, s=18, alpha=0.6)
        low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
        axis.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=0.8)
        axis.set_xlabel(f"true {name}")
        axis.set_ylabel(f"predicted {name}")
        set_title(axis, f"{name}: predicted against true (test)")
    return save_figure(figure, path)


def residuals_plot(predictions: Any, targets: Any, names: list[str], path: Path) -> Path:
    """Each test example's residual (true - predicted) against its prediction: a pattern, or a
    spread that grows with the value, is what the model has not learned."""
    figure, axes = _per_target_axes(len(names))
    for i, (axis, name) in enumerate(zip(axes, names, strict=True)):
        predicted = predictions[:, i].numpy()
        axis.scatter(predicted, targets[:, i].numpy() - predicted, s=18, alpha=0.6)
        axis.axhline(0.0, linestyle="--", color="grey", linewidth=0.8)
        axis.set_xlabel(f"predicted {name}")
        axis.set_ylabel("residual (true - predicted)")
        set_title(axis, f"{name}: residuals (test)")
    return save_figure(figure, path)


class Point(NamedTuple):
    """An exported variant in a trade-off plot."""

    label: str  # what tells it apart within its group (an export sweep: the trial's values)
    size_kib: float
    nonzero: float
    accuracy: float  # test accuracy, or a regression's R²
    group: str  # its variant: one colour
    quality: str = "test accuracy"  # what `accuracy` is


def tradeoff_plot(
    points: list[Point], path: Path, title: str, quality: str = "test accuracy"
) -> Path:
    """Test accuracy (a regression's R²: `quality`) against file size and against non-zero
    parameters (global pruning zeroes weights but keeps the file's size), a colour per variant."""
    figure, axes = plt.subplots(1, 2, sharey=True, figsize=(14, 6))
    groups = list(dict.fromkeys(p.group for p in points))
    for axis, x, label in (
        (axes[0], "size_kib", "file size (KiB)"),
        (axes[1], "nonzero", "non-zero parameters"),
    ):
        for group in groups:
            mine = [(getattr(p, x), p.accuracy, p.label) for p in points if p.group == group]
            axis.scatter([m[0] for m in mine], [m[1] for m in mine], s=70, alpha=0.85, label=group)
            if len({m[:2] for m in mine}) > 1:  # the trials moved it: say which is which
                for xy_label in mine:
                    axis.annotate(
                        xy_label[2], xy_label[:2], textcoords="offset points", xytext=(6, 4)
                    )
        values = [float(getattr(p, x)) for p in points]
        if values and min(values) > 0 and max(values) / min(values) >= 10:
            axis.set_xscale("log")
        axis.set_xlabel(label)
    axes[0].set_ylabel(quality)
    axes[1].legend(loc="best")
    figure.suptitle(title)
    return save_figure(figure, path)
