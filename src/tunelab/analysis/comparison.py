"""What differs between runs, and whether a difference is more than seed noise.

`python compare.py RUN_ID RUN_ID ...` (or `--sweep PARENT_ID`, or `--experiment NAME`)
reads the runs' params, test metrics and objective curves from MLflow and reports: the config
keys that differ (only those), each run's headline metrics with their deltas against the first,
and, where several runs are repeats of one configuration (they differ only in `seed` or
`data.fold`), each configuration's mean and standard deviation with Welch's t-test between
configurations. The report is printed and logged, with the curves overlaid, to a new comparison
run beside the first run (tags: `tunelab.job=compare`, `compare.sources`).

MLflow's compare view lists every param side by side; it no longer hides the equal ones
(mlflow #10477), and it knows nothing of repeats.
"""

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunelab.errors import UserError

# Keys a repeat of one configuration may change: the repeats of tunelab.jobs.repeats.
REPEAT_KEYS = ("seed", "data.fold")
# Params that say where a run is, not what it trained (never a difference worth listing).
NOT_COMPARED = ("repeats",)


@dataclass
class RunFacts:
    run_id: str
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    experiment_id: str = "0"

    @property
    def task(self) -> str:
        return self.params.get("task", "classification")

    @property
    def data(self) -> str:
        return self.tags.get("data.name", "?")

    def configuration(self) -> tuple[tuple[str, str], ...]:
        """The run's params less the keys a repeat may change: repeats share it."""
        return tuple(sorted((k, v) for k, v in self.params.items() if k not in REPEAT_KEYS))


def differing_keys(runs: list[RunFacts]) -> list[str]:
    """The params whose values are not the same in every run (absent counts as a value)."""
    keys = sorted({k for run in runs for k in run.params} - set(NOT_COMPARED))
    return [k for k in keys if len({run.params.get(k, "<unset>") for run in runs}) > 1]


def headline_metrics(runs: list[RunFacts]) -> list[str]:
    """The test metrics every run has, and the objective."""
    shared = set.intersection(*(set(run.metrics) for run in runs))
    return sorted(m for m in shared if m.startswith("test/")) + (
        ["objective"] if "objective" in shared else []
    )


@dataclass
class Group:
    """Runs of one configuration (repeats): their values of a metric."""

    label: str
    runs: list[RunFacts]

    def values(self, metric: str) -> list[float]:
        return [run.metrics[metric] for run in self.runs if metric in run.metrics]


def groups(runs: list[RunFacts], differing: list[str]) -> list[Group]:
    """The runs grouped by configuration, in the order they first appear; a group is labelled
    by its values of the differing keys that are not repeat keys."""
    found: dict[tuple, Group] = {}
    shown = [k for k in differing if k not in REPEAT_KEYS]
    for run in runs:
        key = run.configuration()
        if key not in found:
            label = ", ".join(f"{k}={run.params.get(k, '<unset>')}" for k in shown) or "one config"
            found[key] = Group(label, [])
        found[key].runs.append(run)
    return list(found.values())


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def welch(a: list[float], b: list[float]) -> float:
    """Welch's t-test p-value of two groups' values (NaN with fewer than 2 in either)."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    from scipy.stats import ttest_ind

    return float(ttest_ind(a, b, equal_var=False).pvalue)


def check_comparable(runs: list[RunFacts]) -> None:
    """Runs of different tasks or data sets measure different things: one line naming them."""
    if len(runs) < 2:
        raise UserError("compare: name at least two runs (or a sweep with two trials)")
    for what, seen in (("task", {r.task for r in runs}), ("data", {r.data for r in runs})):
        if len(seen) > 1:
            raise UserError(
                f"compare: the runs have different {what} ({', '.join(sorted(seen))}): their "
                f"metrics do not compare; name runs of one {what}"
            )


def report(runs: list[RunFacts]) -> str:
    """The comparison as Markdown: differing keys, metrics with deltas, groups of repeats."""
    check_comparable(runs)
    differing = differing_keys(runs)
    metrics = headline_metrics(runs)
    lines = [f"# Comparison of {len(runs)} runs", ""]
    lines += ["## Config keys that differ", ""]
    if differing:
        lines += ["| run | " + " | ".join(differing) + " |", "|---" * (len(differing) + 1) + "|"]
        lines += [
            f"| {run.name} | " + " | ".join(run.params.get(k, "<unset>") for k in differing) + " |"
            for run in runs
        ]
    else:
        lines.append("None: the runs share every key.")
    lines += ["", "## Metrics (delta against the first run)", ""]
    lines += ["| run | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    first = runs[0]
    for run in runs:
        cells = []
        for metric in metrics:
            value, delta = run.metrics[metric], run.metrics[metric] - first.metrics[metric]
            cells.append(f"{value:.4f}" if run is first else f"{value:.4f} ({delta:+.4f})")
        lines.append(f"| {run.name} | " + " | ".join(cells) + " |")
    lines += repeats_section(groups(runs, differing), metrics)
    lines += ["", "## Sources", ""]  # links that MLflow's Markdown view opens in its own page
    lines += [
        f"- [{run.name}](#/experiments/{run.experiment_id}/runs/{run.run_id}): `{run.run_id}`"
        for run in runs
    ]
    return "\n".join(lines) + "\n"


def repeats_section(found: list[Group], metrics: list[str]) -> list[str]:
    """Mean and std per configuration, and whether the first configuration's difference from
    each other one exceeds the seed spread (Welch's t-test, p < 0.05)."""
    if all(len(g.runs) < 2 for g in found):
        return []
    lines = ["", "## Repeats of one configuration: mean ± std", ""]
    lines += ["| configuration | runs | " + " | ".join(metrics) + " |"]
    lines.append("|---" * (len(metrics) + 2) + "|")
    for group in found:
        cells = []
        for metric in metrics:
            mean, std = mean_std(group.values(metric))
            cells.append(f"{mean:.4f} ± {std:.4f}" if not math.isnan(std) else f"{mean:.4f}")
        lines.append(f"| {group.label} | {len(group.runs)} | " + " | ".join(cells) + " |")
    base = found[0]
    for other in found[1:]:
        lines.append("")
        for metric in metrics:
            p = welch(base.values(metric), other.values(metric))
            if math.isnan(p):
                continue
            verdict = "more than the seed spread" if p < 0.05 else "within the seed spread"
            lines.append(
                f"- {metric}: {other.label} against {base.label}: Welch's t-test p = {p:.3g}, "
                f"{verdict}."
            )
    return lines


def read_runs(client: Any, run_ids: list[str]) -> list[RunFacts]:
    """Each run's params, metrics and tags; a run id that does not exist is one line."""
    from mlflow.exceptions import MlflowException

    found = []
    for run_id in run_ids:
        try:
            run = client.get_run(run_id)
        except MlflowException:
            raise UserError(f"compare: no run {run_id} in {client.tracking_uri}") from None
        name = f"{run.info.run_name or 'run'} [{run_id[:6]}]"  # names repeat; ids do not
        data = run.data
        found.append(
            RunFacts(run_id, name, data.params, data.metrics, data.tags, run.info.experiment_id)
        )
    return found


def curves_figure(client: Any, runs: list[RunFacts]) -> Any:
    """Each run's objective per epoch (the metric its objective.metric names), overlaid (a
    baseline, fitted once, is a single point)."""
    from tunelab.tracking.plots import plt, set_title  # in the house style, set on import

    figure, axes = plt.subplots()
    metric = runs[0].params.get("objective.metric", "val/acc")
    for run in runs:
        history = sorted(client.get_metric_history(run.run_id, metric), key=lambda m: m.step)
        axes.plot([m.step for m in history], [m.value for m in history], ".-", label=run.name)
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric)
    set_title(axes, f"{metric} per epoch")
    axes.legend(ncol=2 if len(runs) > 8 else 1)
    return figure


def chosen_runs(
    client: Any, run_ids: list[str], sweep: str | None, experiment_name: str | None
) -> list[str]:
    """The run ids named, or a sweep's finished trials, or an experiment's finished training
    runs and baselines (not sweep parents, evaluations, exports or comparisons), oldest first."""
    if run_ids:
        return list(run_ids)
    if sweep:
        experiment = client.get_run(sweep).info.experiment_id
        filter_string = f"tags.mlflow.parentRunId = '{sweep}'"
    else:
        found = client.get_experiment_by_name(experiment_name)
        if found is None:
            raise UserError(f"compare: no experiment {experiment_name!r} in {client.tracking_uri}")
        experiment, filter_string = found.experiment_id, ""
    runs = client.search_runs(
        [experiment], filter_string, order_by=["attributes.start_time ASC"], max_results=500
    )
    return [
        r.info.run_id
        for r in runs
        if r.info.status == "FINISHED"
        and r.data.tags.get("tunelab.job", "train") == "train"
        and "objective" in r.data.metrics
    ]


def log_comparison(client: Any, runs: list[Any], markdown: str, figure: Any) -> str:
    """A new run beside the first run holding the report and the curves; its id."""
    import tempfile

    from tunelab.tracking.plots import save_figure

    experiment = client.get_run(runs[0].run_id).info.experiment_id
    tags = {"tunelab.job": "compare", "compare.sources": ",".join(r.run_id for r in runs)}
    run = client.create_run(experiment, run_name=f"compare {len(runs)} runs", tags=tags)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "comparison.md").write_text(markdown)
        save_figure(figure, Path(folder) / "curves.png")
        client.log_artifacts(run.info.run_id, folder)
    client.set_terminated(run.info.run_id)
    return run.info.run_id
