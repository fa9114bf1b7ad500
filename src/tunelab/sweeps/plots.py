"""A sweep's plots: the objective against each swept parameter, and every trial's validation
curve on one chart (in tunelab.tracking.plots's house style)."""

import math
import textwrap
from pathlib import Path

from mlflow import MlflowClient

from tunelab.sweeps.state import trial_name
from tunelab.sweeps.trials import Trial
from tunelab.tracking.plots import plt, save_figure, set_title


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


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
    points = [(t, t.overrides.get(key, "")) for t in trials if t.scored]
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
    set_title(axis, f"{objective_name} against {key}")
    return save_figure(figure, path)


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
    set_title(axis, f"{metric} per epoch, all {len(trials)} trials")
    return save_figure(figure, path)
