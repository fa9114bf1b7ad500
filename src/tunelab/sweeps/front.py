"""A search's trade-off on its parent run: which trials satisfy the constraints, which are
Pareto-optimal among those (objective and objective.more), the front as a plot and the
hypervolume it covers after each trial. Read from the trials' runs, like the rest of the
summary (tunelab.sweeps.summary), so it is the same whichever launcher ran them."""

import math
from pathlib import Path

from tunelab.sweeps.objectives import Constraint, Objective
from tunelab.sweeps.trials import Trial


def measured(trial: Trial, metric: str, first: str) -> float:
    """A trial's value of `metric`: its objective for the first, else the metric it logged."""
    if metric == first:
        return trial.objective
    return trial.metrics.get(metric, math.nan)


def violations(trial: Trial, constraints: list[Constraint], first: str) -> list[str]:
    """The constraints `trial` breaks, each with its value: `cost/latency_ms=0.62 > 0.5`."""
    broken = []
    for c in constraints:
        value = measured(trial, c.metric, first)
        if c.excess(value) > 0:
            past = ">" if c.op == "<=" else "<"
            broken.append(f"{c.metric}={value:.4g} {past} {c.bound:g}")
    return broken


def losses(trial: Trial, objectives: list[Objective]) -> list[float]:
    """The trial's objective values, each turned so that smaller is better."""
    first = objectives[0].metric
    return [
        -measured(trial, o.metric, first) if o.mode == "max" else measured(trial, o.metric, first)
        for o in objectives
    ]


def dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def pareto(points: dict[str, list[float]]) -> set[str]:
    """The keys whose points no other point dominates (smaller is better in each)."""
    return {
        key
        for key, point in points.items()
        if not any(dominates(other, point) for k, other in points.items() if k != key)
    }


def hypervolume(points: list[list[float]], reference: list[float]) -> float:
    """The volume the points dominate up to `reference` (smaller is better), by slicing along
    the last objective: exact, and quick for the tens of points of a search."""
    inside = [p for p in points if all(x < r for x, r in zip(p, reference, strict=True))]
    if not inside:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in inside)
    inside.sort(key=lambda p: p[-1])
    volume = 0.0
    for i, point in enumerate(inside):
        upper = inside[i + 1][-1] if i + 1 < len(inside) else reference[-1]
        volume += hypervolume([p[:-1] for p in inside[: i + 1]], reference[:-1]) * (
            upper - point[-1]
        )
    return volume


def reference_point(points: list[list[float]]) -> list[float]:
    """Past the worst of each objective by a tenth of its range: every trial counts."""
    worst = [max(column) for column in zip(*points, strict=True)]
    best = [min(column) for column in zip(*points, strict=True)]
    return [w + 0.1 * (w - b) + 1e-12 for w, b in zip(worst, best, strict=True)]


def hypervolume_history(
    trials: list[Trial], points: dict[str, list[float]], feasible: set[str]
) -> list[tuple[int, float]]:
    """(trial number, the hypervolume of the feasible trials up to it), per finished trial."""
    if not points:
        return []
    reference = reference_point(list(points.values()))
    history, seen = [], []
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.run_id in points and trial.run_id in feasible:
            seen.append(points[trial.run_id])
        if trial.state in ("finished", "pruned", "failed"):
            history.append((trial.number, hypervolume(seen, reference)))
    return history


def front_plot(
    trials: list[Trial],
    objectives: list[Objective],
    front: set[str],
    feasible: set[str],
    path: Path,
) -> None:
    """The first objective against each further one: the front drawn and marked, the other
    trials faded, infeasible ones hollow."""
    import matplotlib.pyplot as plt

    from tunelab.tracking.plots import STYLE  # the house style, set on import

    first, others = objectives[0], objectives[1:]
    figure, axes = plt.subplots(1, len(others), squeeze=False, figsize=STYLE["figure.figsize"])
    for axis, other in zip(axes[0], others, strict=True):
        for trial in trials:
            x = measured(trial, other.metric, first.metric)
            y = measured(trial, first.metric, first.metric)
            on_front = trial.run_id in front
            color = "crimson" if on_front else "tab:blue"
            axis.scatter(
                [x],
                [y],
                s=90 if on_front else 40,
                alpha=1.0 if on_front else 0.35,
                edgecolors=color,
                facecolors=color if trial.run_id in feasible else "none",  # hollow: infeasible
                zorder=3 if on_front else 2,
            )
            if on_front:
                axis.annotate(f"#{trial.number}", (x, y), textcoords="offset points", xytext=(6, 4))
        line = sorted(
            (measured(t, other.metric, first.metric), t.objective)
            for t in trials
            if t.run_id in front
        )
        if line:
            xs, ys = zip(*line, strict=True)
            axis.step(xs, ys, where="post", color="crimson", linewidth=1.5)
        axis.set_xlabel(f"{other.metric} ({other.mode})")
        axis.set_ylabel(f"{first.metric}_best ({first.mode})")
        axis.set_title(
            f"{first.metric} against {other.metric}: the Pareto front in red, "
            "infeasible trials hollow"
        )
    figure.savefig(path)
    plt.close(figure)
