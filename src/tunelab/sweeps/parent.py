"""A sweep's parent run, opened and finished in the MLflow writer process.

The sweep callback (tracking.sweep_callback) runs in the process that runs the trials; it
asks the writer to call these functions (RunWriter.call) with the writer's client, so that
process never imports MLflow: about 100 MB less under every trial of a sweep (measured).
"""

import logging
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from tunelab.tracking.store import MAX_RUN_NAME, clip, experiment_id, log_batch

log = logging.getLogger(__name__)


def open_parent(
    client: MlflowClient,
    uri: str,
    experiment: str,
    name: str,
    tags: dict[str, str],
    sweep_dir: str,
    grid: bool,
) -> dict[str, Any]:
    """The parent run: the earlier sweep's in this folder (continued) or a new one; stale
    sweeps of the experiment (their process died) ended KILLED first. What was done, for the
    sweep's log: run_id, experiment_id, stale (run ids), continued (a line or None)."""
    from tunelab.sweeps.stale import end_stale_sweeps

    experiment_ = experiment_id(client, experiment, uri)
    stale = end_stale_sweeps(client, [experiment_])
    run_id, continued = earlier_parent(client, experiment_, Path(sweep_dir), grid)
    if run_id is None:
        run_id = client.create_run(experiment_, run_name=clip(name, MAX_RUN_NAME)).info.run_id
    log_batch(client, run_id, tags=tags)
    return {"run_id": run_id, "experiment_id": experiment_, "stale": stale, "continued": continued}


def earlier_parent(
    client: MlflowClient, experiment_: str, sweep_dir: Path, grid: bool
) -> tuple[str | None, str | None]:
    """A sweep run again in an earlier sweep's folder continues that sweep: the same parent
    (RUNNING again), its finished trials kept, the others resumed in their own runs (a grid
    sweep; an Optuna study resumes through its storage). (None, None) for a new folder."""
    from mlflow.exceptions import MlflowException

    from tunelab.sweeps.state import PARENT_FILE, STOP_FILE, write_earlier_trials
    from tunelab.sweeps.trials import fetch_trials

    parent_file = sweep_dir / PARENT_FILE
    if not parent_file.exists():
        return None, None
    parent = parent_file.read_text().strip()
    try:
        client.update_run(parent, status="RUNNING")
    except MlflowException:  # the earlier parent is not in this store: a new sweep
        return None, None
    (sweep_dir / STOP_FILE).unlink(missing_ok=True)
    trials = fetch_trials(client, experiment_, parent)
    if grid:
        write_earlier_trials(
            sweep_dir,
            {
                t.tags.get("sweep.trial_overrides", ""): {
                    "run_id": t.run_id,
                    "status": t.status,
                    "objective": t.objective,
                }
                for t in trials
            },
        )
    done = sum(t.status == "FINISHED" for t in trials)
    return parent, f"continuing sweep run {parent}: {done} of its {len(trials)} trials finished"


def finish_parent(
    client: MlflowClient,
    experiment_: str,
    run_id: str,
    status: str,
    objective: dict[str, Any],
    summary_dir: str,
    search: dict[str, str],
    register: dict[str, str] | None,
    stopped_by: str | None = None,
    promote: dict[str, str] | None = None,
) -> tuple[dict[str, object], dict[str, str]]:
    """End the parent with `status`: children cut off ended KILLED, the summary written, the
    best model registered (`register`: its name and alias; FINISHED sweeps only) and its
    config written as an experiment (`promote`: the config folder and the file's folder). The
    summary, and the tags of the registration and the promotion."""
    from tunelab.sweeps.summary import log_sweep_summary

    if stopped_by:
        client.set_tag(run_id, "error", f"{stopped_by}: the sweep was stopped by a signal")
    end_running_children(client, experiment_, run_id)
    summary = log_sweep_summary(
        client,
        experiment_,
        run_id,
        objective["metric"],
        objective["mode"],
        Path(summary_dir),
        search,
        {"more": objective.get("more", []), "constraints": objective.get("constraints", [])},
    )
    registered = register_best_trial(client, run_id, summary, objective["mode"], register)
    if promote and status == "FINISHED" and summary.get("best.run_id"):
        name = register["name"] if register else None
        registered |= promote_best_trial(client, run_id, promote, registered, name)
    client.set_terminated(run_id, status)
    return summary, registered


def promote_best_trial(
    client: MlflowClient,
    run_id: str,
    promote: dict[str, str],
    registered: dict[str, str],
    model_name: str | None,
) -> dict[str, str]:
    """conf/experiment/<sweep>_best.yaml (tunelab.sweeps.promote); the version of `model_name`
    just registered and the file name each other (the file's header, the version's tag
    tunelab.experiment)."""
    from tunelab.sweeps.promote import promote_trial

    about = [f"{k}: {v}" for k, v in registered.items() if k.startswith("registered_model")]
    try:
        path = promote_trial(
            client, run_id, None, Path(promote["conf"]), Path(promote["to"]), about
        )
    except Exception as error:  # the sweep's results stand; the parent still ends
        log.warning("writing the best trial's config failed: %s", error)
        return {"promoted_to": f"failed: {type(error).__name__}: {error}"}
    tags = {"promoted_to": str(path)}
    log_batch(client, run_id, tags=tags)
    if model_name and (version := registered.get("registered_model.version")):
        client.set_model_version_tag(model_name, version, "tunelab.experiment", path.stem)
    return tags


def register_best_trial(
    client: MlflowClient,
    run_id: str,
    summary: dict[str, object],
    mode: str,
    register: dict[str, str] | None,
) -> dict[str, str]:
    """The best trial's model as a new version of register["name"], the alias moved to it
    when it beats the current holder; recorded as tags on the parent run."""
    from tunelab.tracking.registry import register_best

    best = summary.get("best.run_id")
    if not register or not best:
        return {}
    try:
        tags = register_best(
            client,
            register["name"],
            register["alias"],
            str(best),
            float(summary["best_objective"]),  # type: ignore[arg-type]
            mode,
        )
    except Exception as error:  # the sweep's results stand; the parent still ends
        log.warning("registering the best model failed: %s", error)
        tags = {"registered_model": f"failed: {type(error).__name__}: {error}"}
    log_batch(client, run_id, tags=tags)
    return tags


def end_running_children(client: MlflowClient, experiment_: str, run_id: str) -> None:
    """Children still RUNNING when the sweep ends were cut off (Ctrl-C, a killed worker)."""
    running = client.search_runs(
        [experiment_],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}' and attributes.status = 'RUNNING'",
    )
    for run in running:
        client.set_terminated(run.info.run_id, "KILLED")
