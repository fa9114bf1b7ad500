"""The finished runs a search starts from (hydra.sweeper.warm_start), read in the MLflow writer
process: an experiment's, a sweep's trials, or runs by id. The sweeper keeps those whose params
fall inside its space (hydra_plugins.tunelab_optuna_sweeper._start)."""

import re
from typing import Any

from mlflow import MlflowClient

from tunelab.errors import UserError

RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def finished_runs(
    client: MlflowClient, source: str | list[str], curves: bool = True
) -> list[dict[str, Any]]:
    """{run_id, params, objective, state, curve} of every FINISHED training run `source` names
    with an objective (of a repeats=N run, the configuration's, not each repeat's): a finished
    run's is its best value; a pruned trial's (state "pruned") is where it stopped, and `curve`
    its objective metric per epoch, which Optuna's samplers and pruners read from a pruned
    trial (curves=False: left out). UserError (one line) when it names nothing."""
    from mlflow.exceptions import MlflowException

    try:
        runs = named_runs(client, source)
    except MlflowException as error:  # a run id that is not in this store
        raise UserError(f"hydra.sweeper.warm_start={source}: {error.message}") from None
    found = []
    for run in runs:
        state = run.data.tags.get("trial.state", "finished")
        if run.info.status != "FINISHED" or "objective" not in run.data.metrics:
            continue
        if "repeat.of" in run.data.tags and not isinstance(source, list):
            continue  # one training of a repeats=N run, which stands for the configuration
        found.append(
            {
                "run_id": run.info.run_id,
                "params": dict(run.data.params),
                "objective": run.data.metrics["objective"],
                "state": state,
                "curve": curve(client, run) if curves and state == "pruned" else {},
            }
        )
    return found


def curve(client: MlflowClient, run: Any) -> dict[int, float]:
    """The run's objective metric (its param objective.metric) by epoch."""
    metric = run.data.params.get("objective.metric", "")
    return {int(m.step): m.value for m in client.get_metric_history(run.info.run_id, metric)}


def named_runs(client: MlflowClient, source: str | list[str]) -> list[Any]:
    if isinstance(source, list):
        runs = [client.get_run(run_id) for run_id in source]
    elif RUN_ID.match(source):  # a sweep's parent run: its trials
        parent = client.get_run(source)
        runs = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{source}'",
            max_results=10_000,
        )
    else:
        experiment = client.get_experiment_by_name(source)
        if experiment is None:
            raise UserError(
                f"hydra.sweeper.warm_start={source}: no experiment of that name (give an "
                "experiment's name, a sweep's parent run id, or a list of run ids)"
            )
        runs = client.search_runs([experiment.experiment_id], max_results=10_000)
    return runs
