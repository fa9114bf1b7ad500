"""The sweep summary on its parent run: the trial table, fold groups, best trial and plots."""

from pathlib import Path

from mlflow import MlflowClient

from tunelab.tracking.plots import objective_vs_param, validation_curves
from tunelab.tracking.store import log_batch
from tunelab.tracking.trials import (
    FOLD_KEY,
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


def log_sweep_summary(
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    metric: str,
    mode: str,
    folder: Path,
) -> dict[str, object]:
    """Write the trial table, fold groups, best trial and plots onto the parent run; the
    figures as a dict."""
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
    for key in (k for k in swept_keys(trials) if k != FOLD_KEY):
        safe = key.replace("/", "_").replace(".", "_")
        objective_vs_param(trials, key, f"{metric}_best", folder / f"objective_vs_{safe}.png")
    validation_curves(client, trials, metric, swept_keys(trials), folder / "validation_curves.png")
    client.log_artifacts(parent_run_id, str(folder), "sweep")

    counts = {s: sum(t.status == s for t in trials) for s in ("FINISHED", "FAILED", "KILLED")}
    metrics: dict[str, float] = {
        "trials_total": len(trials),
        "trials_finished": counts["FINISHED"],
        "trials_failed": counts["FAILED"],
        "trials_killed": counts["KILLED"],
    }
    params: dict[str, str] = {}
    best = best_trial(trials, mode)
    if best is not None:
        metrics["best_objective"] = best.objective
        params = {
            "best.trial": str(best.number),
            "best.run_id": best.run_id,
            "best.overrides": best.overrides_text,
        }
    group = best_group(groups, mode)
    if group is not None:
        metrics |= {"best_fold_mean": group.mean, "best_fold_std": group.std}
        params["best_fold.overrides"] = group.overrides
    log_batch(client, parent_run_id, metrics=metrics, params=params)
    return {**metrics, **params}
