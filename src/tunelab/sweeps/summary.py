"""The sweep summary on its parent run: the trial table, fold groups, best trial and plots."""

import math
import time
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric

from tunelab.sweeps.front import (
    front_plot,
    hypervolume_history,
    losses,
    measured,
    pareto,
    violations,
)
from tunelab.sweeps.objectives import Constraint, Objective, parse_constraints
from tunelab.sweeps.plots import objective_vs_param, validation_curves
from tunelab.sweeps.state import STATES, short_value
from tunelab.sweeps.trials import (
    FOLD_KEY,
    Trial,
    best_group,
    best_trial,
    fetch_trials,
    fold_groups,
    folds_table,
    swept_keys,
    to_csv,
    to_markdown,
    trials_table,
)
from tunelab.tasks import QUALITY_LABEL
from tunelab.tracking.plots import Point, tradeoff_plot
from tunelab.tracking.store import log_batch


def log_sweep_summary(
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    metric: str,
    mode: str,
    folder: Path,
    search: dict[str, str] | None = None,
    tradeoff: dict[str, list] | None = None,
) -> dict[str, object]:
    """Write the trial table, fold groups, best trial, plots and the run's note (`search`:
    the space and the sweeper's settings, as lines) onto the parent run; the figures as a
    dict. `tradeoff`: further objectives (more: [[metric, mode]]) and constraints, whose
    feasible trials alone may be the best, and whose Pareto front is drawn and tagged."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    trials = fetch_trials(client, experiment_id, parent_run_id)
    files = {
        "trials.csv": to_csv(trials_table(trials)),
        "trials.md": to_markdown(trials_table(trials)),
    }
    groups = fold_groups(trials)
    if groups:
        files |= {
            "folds.csv": to_csv(folds_table(groups)),
            "folds.md": to_markdown(folds_table(groups)),
        }
    for name, text in files.items():
        (folder / name).write_text(text)
    objectives = [Objective(metric, mode)]
    objectives += [Objective(m, d) for m, d in (tradeoff or {}).get("more", [])]
    constraints = parse_constraints((tradeoff or {}).get("constraints"))
    broken = {t.run_id: violations(t, constraints, metric) for t in trials}
    feasible = [t for t in trials if not broken[t.run_id]]
    best = best_trial(feasible, mode)  # the most accurate trial within the constraints
    front_lines, front_metrics = "", dict[str, float]()
    if len(objectives) > 1 or constraints:
        front_lines, front_metrics = log_tradeoff(
            client, experiment_id, parent_run_id, trials, objectives, constraints, broken, folder
        )
    logged = {k for k, v in (search or {}).items() if "log" in v}  # sampled on a log scale
    for key in (k for k in swept_keys(trials) if k != FOLD_KEY):
        safe = key.replace("/", "_").replace(".", "_")
        path = folder / f"objective_vs_{safe}.png"
        objective_vs_param(trials, key, f"{metric}_best", path, best, key in logged)
    if points := variant_points(trials):  # an export sweep: no epochs, variants
        label = points[0].quality
        title = f"{label} against file size, every trial"
        tradeoff_plot(points, folder / "tradeoff.png", title, label)
    else:
        curves = folder / "validation_curves.png"
        validation_curves(client, trials, metric, swept_keys(trials), curves, best)
    client.log_artifacts(parent_run_id, str(folder), "sweep")

    metrics: dict[str, float] = {
        "trials_total": len(trials),
        **{f"trials_{state}": sum(t.state == state for t in trials) for state in STATES},
    }
    params: dict[str, str] = {}
    if best is not None:
        metrics["best_objective"] = best.objective  # the parent's headline in the run list
        if best.spread is not None:  # a trial of repeats: the spread of its trainings
            metrics["best_objective_std"] = best.spread
        params = {
            "best.trial": str(best.number),
            "best.run_id": best.run_id,
            "best.overrides": best.overrides_text,
        }
    group = best_group(groups, mode)
    if group is not None:
        metrics |= {"best_fold_mean": group.mean, "best_fold_std": group.std}
        params["best_fold.overrides"] = group.overrides
    note = sweep_note(trials, best, metric, mode, experiment_id, search or {}) + front_lines
    metrics |= front_metrics
    counts = {k: v for k, v in metrics.items() if k != "best_objective"}  # that one: a series
    log_batch(client, parent_run_id, metrics=counts, params=params, tags={NOTE: note})
    log_batch(client, parent_run_id, metrics=best_so_far(feasible, mode))
    return {**metrics, **params}


def variant_points(trials: list[Trial]) -> list[Point]:
    """(trial's swept values, KiB, non-zero, accuracy, variant) of every variant every export
    trial logged (tunelab.export.pipeline: VARIANT/size_kib, /nonzero, /test_acc or a regression's
    /test_r2)."""
    keys = swept_keys(trials)
    points = []
    for trial in trials:
        label = (
            " ".join(short_value(trial.overrides.get(k, "")) for k in keys) or f"#{trial.number}"
        )
        for name, size in trial.metrics.items():
            variant, _, what = name.partition("/")
            accuracy = trial.metrics.get(
                f"{variant}/test_acc", trial.metrics.get(f"{variant}/test_r2")
            )
            nonzero = trial.metrics.get(f"{variant}/nonzero")
            if what == "size_kib" and accuracy is not None and nonzero is not None:
                task = "classification" if f"{variant}/test_acc" in trial.metrics else "regression"
                quality = QUALITY_LABEL[task]
                points.append(Point(label, size, nonzero, accuracy, variant, quality))
    return points


NOTE = "mlflow.note.content"  # the run's description, Markdown, shown on its page


def log_tradeoff(
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    trials: list[Trial],
    objectives: list[Objective],
    constraints: list[Constraint],
    broken: dict[str, list[str]],
    folder: Path,
) -> tuple[str, dict[str, float]]:
    """Each trial's run tagged feasible or not (`broken`: the `constraints` each trial breaks,
    tunelab.sweeps.front.violations) and, with several objectives, on the Pareto front or not;
    the front's plot and the hypervolume after each trial on the parent; the note's lines and
    the parent's counts."""
    scored = [t for t in trials if t.scored]
    for trial in scored if constraints else []:
        tags = {"trial.feasible": str(not broken[trial.run_id]).lower()}
        if broken[trial.run_id]:
            tags["trial.violates"] = "; ".join(broken[trial.run_id])
        log_batch(client, trial.run_id, tags=tags)
    counts = {"trials_infeasible": float(sum(bool(broken[t.run_id]) for t in scored))}
    lines = ""
    if len(objectives) > 1:
        points = {t.run_id: losses(t, objectives) for t in scored}
        points = {k: p for k, p in points.items() if all(math.isfinite(v) for v in p)}
        feasible = {k for k in points if not broken.get(k)}
        front = pareto({k: points[k] for k in feasible})
        for run_id in points:
            log_batch(client, run_id, tags={"pareto": str(run_id in front).lower()})
        now = int(time.time() * 1000)
        history = hypervolume_history(trials, points, feasible)
        log_batch(
            client, parent_run_id, metrics=[Metric("hypervolume", v, now, n) for n, v in history]
        )
        if points:
            shown = [t for t in scored if t.run_id in points]
            front_plot(shown, objectives, front, feasible, folder / "front.png")
        counts["pareto_trials"] = float(len(front))
        lines = front_note([t for t in scored if t.run_id in front], objectives, experiment_id)
    return lines, counts


def trial_link(trial: Trial, experiment_id: str) -> str:
    """The trial's name linking to its run, within the MLflow UI."""
    return (
        f"[{trial.name or f'#{trial.number}'}](#/experiments/{experiment_id}/runs/{trial.run_id})"
    )


def front_note(front: list[Trial], objectives: list[Objective], experiment_id: str) -> str:
    """The note's Pareto front: one row per trial, linked to its run, by its first objective."""
    first = objectives[0]
    rows = sorted(front, key=lambda t: -t.objective if first.mode == "max" else t.objective)
    header = ["trial", *(f"{o.metric} ({o.mode})" for o in objectives)]
    lines = ["", f"**Pareto front** ({len(rows)} trials, `sweep/front.png`):", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for t in rows:
        values = [f"{measured(t, o.metric, first.metric):.4g}" for o in objectives]
        lines.append(f"| {trial_link(t, experiment_id)} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def best_so_far(trials: list[Trial], mode: str) -> list[Metric]:
    """`best_objective` stepped by trial number, the best of the trials up to each: the search's
    progress as a chart, whose last value (the one the run list shows) is the sweep's best."""
    now, points = int(time.time() * 1000), []
    best = -math.inf if mode == "max" else math.inf
    for trial in (t for t in trials if t.scored):
        best = max(best, trial.objective) if mode == "max" else min(best, trial.objective)
        points.append(Metric("best_objective", best, now, trial.number))
    return points


def sweep_note(
    trials: list[Trial],
    best: Trial | None,
    metric: str,
    mode: str,
    experiment_id: str,
    search: dict[str, str],
) -> str:
    """The parent's description: what was searched, the best trial and a rounded table of the
    trials, each linked to its run (links within the MLflow UI)."""

    def link(trial: Trial) -> str:
        return trial_link(trial, experiment_id)

    lines = [f"**Objective**: `{metric}`, {'maximised' if mode == 'max' else 'minimised'}."]
    if best is not None:
        lines.append(f"**Best**: {link(best)} with {best.shown_objective}.")
        ties = [t for t in trials if t is not best and t.scored and t.objective == best.objective]
        if ties:
            others = ", ".join(f"#{t.number}" for t in ties)
            lines.append(f"Tied with {others}: the lowest trial number is picked.")
    lines += ["", "**Search**:", *(f"- `{k}`: {v}" for k, v in search.items())]
    keys = swept_keys(trials)
    header = ["trial", *keys, "objective", "epochs", "state"]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for t in trials:
        values = [short_value(t.overrides.get(k, "")) for k in keys]
        epochs = str(t.epochs if t.epochs is not None else "")
        row = [link(t), *values, t.shown_objective, epochs, t.shown_state]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
