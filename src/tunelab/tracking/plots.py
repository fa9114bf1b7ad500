"""Plots: for sweeps, the objective against each swept parameter and the validation curves of
all trials; for evaluations, the confusion matrix and ROC curves (classification) or predicted
against true values and the residuals (regression)."""

import math
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from tunelab.sweeps.state import trial_name  # noqa: E402
from tunelab.sweeps.trials import Trial  # noqa: E402

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


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _title(axis: Any, text: str) -> None:
    axis.set_title(textwrap.fill(text, 70))  # wrapped, never clipped


def _save(figure: Any, path: Path) -> Path:
    figure.savefig(path)
    plt.close(figure)
    return path


def objective_vs_param(
    trials: list[Trial],
    key: str,
    objective_name: str,
    path: Path,
    best: Trial | None = None,
    log: bool = False,
) -> Path:
    """A scatter of the objective over one swept key, the best trial marked; a log axis when
    the key was sampled on one (`log`) or its values span a decade or more."""
    points = [(t, t.overrides.get(key, "")) for t in trials if not math.isnan(t.objective)]
    figure, axis = plt.subplots()
    parsed = [_as_number(v) for _, v in points]
    if points and all(n is not None for n in parsed):
        xs = [float(n) for n in parsed if n is not None]
        positive = [x for x in xs if x > 0]
        if len(positive) == len(xs) and (log or max(positive) / min(positive) >= 10):
            axis.set_xscale("log")
    else:  # group choices and other categories
        labels = sorted({v for _, v in points})
        xs = [float(labels.index(v)) for _, v in points]
        axis.set_xticks(range(len(labels)), labels)
    axis.scatter(xs, [t.objective for t, _ in points], s=60, alpha=0.8, label="trials")
    for x, (trial, _) in zip(xs, points, strict=True):
        if trial is best:
            axis.scatter([x], [trial.objective], s=260, marker="*", color="crimson", label="best")
            axis.annotate(
                f"best #{trial.number}: {trial.objective:.4f}",
                (x, trial.objective),
                textcoords="offset points",
                xytext=(8, 8),
            )
    axis.set_xlabel(key)
    axis.set_ylabel(objective_name)
    axis.legend(loc="best")
    _title(axis, f"{objective_name} against {key}")
    return _save(figure, path)


def validation_curves(
    client: MlflowClient,
    trials: list[Trial],
    metric: str,
    label_keys: list[str],
    path: Path,
    best: Trial | None = None,
) -> Path:
    """Every trial's per-epoch curve of `metric` on one chart: labelled by trial when there are
    few, coloured by objective (with a colour bar) when there are many; the best one bold."""
    from matplotlib.ticker import MaxNLocator

    figure, axis = plt.subplots()
    scored = [t.objective for t in trials if not math.isnan(t.objective)]
    many = len(trials) > 10
    colours = plt.get_cmap("viridis")
    low, high = (min(scored), max(scored)) if scored else (0.0, 1.0)
    for trial in trials:
        history = client.get_metric_history(trial.run_id, metric)
        if not history:
            continue
        steps, values = [m.step for m in history], [m.value for m in history]
        # as the trial's run is named (short keys), wrapped: a legend beside the chart wider
        # than the figure collapses the chart
        name = trial_name(
            str(trial.number), [f"{k}={v}" for k, v in trial.overrides.items()], label_keys
        )
        label = "\n".join(textwrap.wrap(name, 40))
        if trial is best:
            axis.plot(
                steps,
                values,
                color="crimson",
                linewidth=3,
                label=f"best {label}",
                zorder=3,
            )
        elif many:
            share = (
                0.5
                if math.isnan(trial.objective) or high == low
                else (trial.objective - low) / (high - low)
            )
            axis.plot(steps, values, color=colours(share), linewidth=1, alpha=0.7)
        else:
            axis.plot(steps, values, linewidth=1.5, label=label)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs
    axis.set_xlabel("epoch")
    axis.set_ylabel(metric)
    if many:
        scale = plt.cm.ScalarMappable(cmap=colours, norm=plt.Normalize(low, high))
        figure.colorbar(scale, ax=axis, label="trial objective")
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="center left", bbox_to_anchor=(1.02, 0.5) if not many else (0.0, 0.2))
    _title(axis, f"{metric} per epoch, all {len(trials)} trials")
    return _save(figure, path)


def confusion_matrix_plot(counts: Any, classes: list[str], path: Path) -> Path:
    """Counts of [true class, predicted class], with the count written in each cell."""
    size = max(8.5, 0.5 * len(classes) + 3)  # 1,000 px and up
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
                predicted, true, str(value), ha="center", va="center", color=colour, fontsize=10
            )
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.grid(False)
    _title(axis, "confusion matrix (test)")
    return _save(figure, path)


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
    _title(axis, "ROC, one class against the rest (test)")
    axis.legend(loc="lower right", ncol=2 if len(classes) > 10 else 1)
    return _save(figure, path)


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
        _title(axis, f"{name}: predicted against true (test)")
    return _save(figure, path)


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
        _title(axis, f"{name}: residuals (test)")
    return _save(figure, path)


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
    return _save(figure, path)
