"""An Optuna study on its sweep's parent run: best params and value, history, importances."""

import logging
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from unittest.mock import patch

from mlflow import MlflowClient
from optuna.trial import TrialState

from tunelab.sweeps.state import PARENT_FILE
from tunelab.tracking.store import log_batch

log = logging.getLogger(__name__)


def log_study_summary(
    study: Any, config: Any, sweep_dir: Path, notes: dict[str, str] | None = None
) -> None:
    """The study on its sweep's parent run; `notes`: tags on how it started and stopped
    (sweep.warm_start, sweep.enqueued, sweep.stopped_by)."""
    parent_file = sweep_dir / PARENT_FILE
    if not parent_file.exists():  # tracking's sweep callback is off: nothing to attach to
        return
    parent = parent_file.read_text().strip()
    client = MlflowClient(config.tracking.uri)
    folder = sweep_dir / "optuna"
    folder.mkdir(exist_ok=True)
    study.trials_dataframe().to_csv(folder / "trials.csv", index=False)
    save_plots(study, folder)
    client.log_artifacts(parent, str(folder), "optuna")

    # The trials' states are counted once, by the sweep summary (trials_finished, _pruned,
    # _failed: each trial's run says its own, tag trial.state), and so is the best value: only
    # what the study alone knows is logged here.
    params: dict[str, str] = {}
    directions = ", ".join(d.name for d in study.directions)
    tags = {"optuna.study_name": study.study_name, "optuna.direction": directions}
    tags |= notes or {}
    complete = any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
    if complete and len(study.directions) == 1:  # several: the sweep summary's Pareto front
        params = {f"optuna.best.{k}": str(v) for k, v in study.best_params.items()}
        tags["optuna.best_trial"] = str(study.best_trial.number)
    log_batch(client, parent, params=params, tags=tags)


def save_plots(study: Any, folder: Path) -> None:
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    from tunelab.tracking.plots import STYLE  # the house style, set on import

    plots: dict[str, Callable[..., Any]] = {
        "optimization_history.png": optuna_plots.plot_optimization_history,
        "param_importances.png": optuna_plots.plot_param_importances,
        "intermediate_values.png": optuna_plots.plot_intermediate_values,
    }
    several = len(study.directions) > 1
    reported = any(t.intermediate_values for t in study.get_trials(deepcopy=False))
    for name, plot in plots.items():
        if name == "intermediate_values.png" and not reported:  # nothing pruned on: no curves
            continue
        if several:  # Optuna plots one objective: the first (the front is the summary's)
            plot = partial(plot, target=lambda t: t.values[0], target_name="objective")
        # Optuna's matplotlib plots call plt.style.use("ggplot") each time, restyling them and
        # every later plot of the process; with that a no-op they draw in the house style.
        with warnings.catch_warnings(), patch.object(plt.style, "use", lambda *_a, **_k: None):
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                axis = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as error:  # too few trials
                log.info("no %s: %s", name, error)
                continue
        figure = axis.figure if hasattr(axis, "figure") else axis.flat[0].figure
        figure.set_size_inches(*STYLE["figure.figsize"])
        figure.savefig(folder / name)
        plt.close(figure)
