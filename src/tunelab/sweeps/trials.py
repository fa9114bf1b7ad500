"""A sweep's trials read back from the MLflow store: one row per trial, the best, fold groups.

Everything is read from the store rather than from the launcher's return values, so the
summary is the same whichever launcher ran the trials (in this process, joblib, SLURM).
"""

import math
import shlex
import statistics
from dataclasses import dataclass, field

from mlflow import MlflowClient

from tunelab.cli.overrides import overrides_dict

FOLD_KEY = "data.fold"


@dataclass
class Trial:
    number: int
    run_id: str
    status: str
    overrides: dict[str, str]
    objective: float
    epochs: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    name: str = ""
    metrics: dict[str, float] = field(default_factory=dict)  # each metric's last value
    params: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """finished, pruned, failed or stopped (a signal, a killed worker): the tag the job
        set (trial.state), else read from the run's status (a run whose process died)."""
        if state := self.tags.get("trial.state"):
            return state
        if self.tags.get("pruned") == "true":  # a pruned trial's run before trial.state
            return "pruned"
        return {"FINISHED": "finished", "FAILED": "failed"}.get(self.status, "stopped")

    @property
    def shown_state(self) -> str:
        """The state as tables show it: `pruned @ epoch 3` names the epoch it stopped after."""
        epoch = self.tags.get("trial.pruned_epoch")
        return f"pruned @ epoch {epoch}" if self.state == "pruned" and epoch else self.state

    @property
    def scored(self) -> bool:
        """Finished with an objective: a candidate for the best trial."""
        return self.state == "finished" and not math.isnan(self.objective)

    @property
    def spread(self) -> float | None:
        """The objective's standard deviation over a repeats=N trial's trainings."""
        return self.metrics.get("objective_std")

    @property
    def shown_objective(self) -> str:
        """`0.9704`, or `0.9704 ± 0.0021` for a trial of repeats; "" when it has none."""
        if math.isnan(self.objective):
            return ""
        spread = "" if self.spread is None else f" ± {self.spread:.4f}"
        return f"{self.objective:.4f}{spread}"

    @property
    def overrides_text(self) -> str:
        """The overrides as a shell command line takes them (a value with spaces quoted)."""
        return shlex.join(f"{k}={v}" for k, v in self.overrides.items())


def parse_overrides(text: str) -> dict[str, str]:
    """A trial's sweep.trial_overrides tag (shell-quoted; a sweep before quoting: split)."""
    try:
        return overrides_dict(shlex.split(text))
    except ValueError:  # an unquoted value with a quote in it, from before
        return overrides_dict(text.split())


def fetch_trials(client: MlflowClient, experiment_id: str, parent_run_id: str) -> list[Trial]:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
        max_results=10_000,
    )
    trials = []
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        epochs = metrics.get("epochs_trained")
        trials.append(
            Trial(
                number=int(tags.get("sweep.trial", -1)),
                run_id=run.info.run_id,
                status=run.info.status,
                overrides=parse_overrides(tags.get("sweep.trial_overrides", "")),
                objective=metrics.get("objective", math.nan),
                epochs=None if epochs is None else int(epochs),
                tags=tags,
                name=run.info.run_name or "",
                metrics=dict(metrics),
                params=dict(run.data.params),
            )
        )
    return sorted(trials, key=lambda t: t.number)


def swept_keys(trials: list[Trial]) -> list[str]:
    """The override keys whose values differ between trials, in command-line order."""
    keys: dict[str, set[str]] = {}
    for trial in trials:
        for key, value in trial.overrides.items():
            keys.setdefault(key, set()).add(value)
    return [k for k, values in keys.items() if len(values) > 1]


def best_trial(trials: list[Trial], mode: str) -> Trial | None:
    scored = [t for t in trials if t.scored]
    if not scored:
        return None
    return (max if mode == "max" else min)(scored, key=lambda t: t.objective)


@dataclass
class FoldGroup:
    overrides: str
    objectives: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.objectives) if self.objectives else math.nan

    @property
    def std(self) -> float:
        return statistics.stdev(self.objectives) if len(self.objectives) > 1 else 0.0


def fold_groups(trials: list[Trial]) -> list[FoldGroup]:
    """Trials that differ only by data.fold, with their finished objectives."""
    if not any(FOLD_KEY in t.overrides for t in trials):
        return []
    groups: dict[str, list[float]] = {}
    for trial in trials:
        rest = " ".join(f"{k}={v}" for k, v in trial.overrides.items() if k != FOLD_KEY)
        groups.setdefault(rest, []).extend([trial.objective] if trial.scored else [])
    return [FoldGroup(k, v) for k, v in groups.items()]


def trials_table(trials: list[Trial]) -> list[dict[str, object]]:
    """One row per trial; a column per swept key, then the trial's whole overrides; the
    objective's spread over repeats where trials were repeated."""
    keys = swept_keys(trials)
    repeated = any(t.spread is not None for t in trials)
    return [
        {
            "trial": t.number,
            **{key: t.overrides.get(key, "") for key in keys},
            "overrides": t.overrides_text,
            "objective": t.objective,
            **({"objective_std": t.spread if t.spread is not None else ""} if repeated else {}),
            "epochs": t.epochs,
            "state": t.shown_state,
            "run_id": t.run_id,
        }
        for t in trials
    ]


def folds_table(groups: list[FoldGroup]) -> list[dict[str, object]]:
    return [
        {"overrides": g.overrides, "folds": len(g.objectives), "mean": g.mean, "std": g.std}
        for g in groups
    ]


def to_csv(rows: list[dict[str, object]]) -> str:
    import csv
    import io

    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def to_markdown(rows: list[dict[str, object]], number: str = ".4f") -> str:
    """A Markdown table of the rows; floats in the `number` format."""
    if not rows:
        return "(no trials)\n"
    header = list(rows[0])

    def cell(value: object) -> str:
        return format(value, number) if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[k]) for k in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def best_group(groups: list[FoldGroup], mode: str) -> FoldGroup | None:
    scored = [g for g in groups if g.objectives]
    if not scored:
        return None
    return (max if mode == "max" else min)(scored, key=lambda g: g.mean)
