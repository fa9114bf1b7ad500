"""The trial side of the tunelab Optuna sweeper: report every epoch, stop when told to prune.

The sweeper (hydra_plugins/tunelab_optuna_sweeper) runs each trial with the trial's number in
TRIAL_ENV and leaves STUDY_FILE in the sweep folder; from these a trial, in whatever process
the launcher runs it, opens the same study and reports its validation objective to it.
"""

import json
import os
import warnings
from pathlib import Path
from typing import Any

TRIAL_ENV = "TUNELAB_OPTUNA_TRIAL"
STUDY_FILE = "optuna_study.json"
JOURNAL_SUFFIX = ".journal"


def open_storage(url: str, heartbeat_seconds: float = 0.0, on_stale: Any = None) -> Any:
    """A path ending in .journal is a JournalStorage file (safe for several processes on one
    machine, no database needed); anything else is an RDB URL (sqlite:///..., postgresql://...),
    which keeps the sweeper's trial heartbeats when `heartbeat_seconds` > 0: a trial silent for
    MISSED beats is stale, failed and handed to `on_stale(study, trial)` (a shared study on
    several machines: another's sweeper died)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from tunelab.tracking.heartbeat import MISSED

    if url.endswith(JOURNAL_SUFFIX):
        return JournalStorage(JournalFileBackend(url))
    if heartbeat_seconds <= 0:
        return optuna.storages.RDBStorage(url)
    every = max(1, round(heartbeat_seconds))  # Optuna counts whole seconds
    with warnings.catch_warnings():  # "experimental" since Optuna 2.9: said once here, not per run
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            heartbeat_interval=every,
            grace_period=MISSED * every,
            heartbeat_stale_trial_callback=on_stale,
        )


def optuna_trial_number() -> int | None:
    value = os.environ.get(TRIAL_ENV)
    return int(value) if value else None


def load_study(sweep_dir: str | Path):
    """The study a sweeper recorded in its sweep folder, with the sweep's pruner (a pruner
    belongs to the process's Study object, not to the storage)."""
    import optuna

    from tunelab.errors import instantiate

    spec = json.loads((Path(sweep_dir) / STUDY_FILE).read_text())
    storage = open_storage(spec["storage"])
    return optuna.load_study(
        study_name=spec["study_name"], storage=storage, pruner=instantiate(spec["pruner"])
    )


def trial_callbacks(monitor: str, curves: Any = None) -> list[Any]:
    """In a trial of the tunelab Optuna sweeper, the callback that reports `monitor` to the
    study after every epoch and prunes (tunelab.sweeps.pruning_callback); elsewhere none. A DDP trial's
    other ranks get one that only obeys rank 0: they run outside the sweep's folder. curves: a
    repeat of repeats=N (tunelab.sweeps.curves.RepeatCurves), recorded first; the mean of
    the repeats is reported."""
    recording: list[Any] = []
    if curves is not None:
        from tunelab.sweeps.curves import RecordCurve

        recording = [RecordCurve(curves, monitor)]
    if optuna_trial_number() is None:
        return recording
    from tunelab.cli.runtime import process_rank
    from tunelab.sweeps.pruning_callback import ReportAndPrune

    if process_rank() != 0:
        return [*recording, ReportAndPrune(None, monitor)]
    from hydra.core.hydra_config import HydraConfig

    trial = this_trial(HydraConfig.get().sweep.dir)
    if len(trial.study.directions) > 1:  # Optuna prunes on one objective only: no reports
        return recording
    return [*recording, ReportAndPrune(trial, monitor, curves)]


def this_trial(sweep_dir: str | Path) -> Any:
    """This process's trial (TRIAL_ENV) of the study the sweeper left in `sweep_dir`."""
    import optuna

    study = load_study(sweep_dir)
    number = optuna_trial_number()
    trial_id = next(t._trial_id for t in study.get_trials(deepcopy=False) if t.number == number)
    return optuna.trial.Trial(study, trial_id)


def record_results(sweep_dir: str | Path, metrics: dict[str, float]) -> None:
    """In a trial of the tunelab Optuna sweeper, its cost/* metrics as the trial's user
    attributes: what the sweeper's further objectives and constraints read when it tells the
    trial (the return value of a job is one number)."""
    costs = {k: v for k, v in metrics.items() if k.startswith("cost/")}
    if optuna_trial_number() is None or not costs:
        return
    trial = this_trial(sweep_dir)
    for key, value in costs.items():
        trial.set_user_attr(key, value)


def is_pruned(error: BaseException) -> bool:
    import sys

    optuna = sys.modules.get("optuna")  # no optuna loaded: no trial of a study
    return optuna is not None and isinstance(error, optuna.TrialPruned)


def tell_pruned(sweep_dir: str | Path) -> None:
    """Record the prune in the study at once, so the sweeper and other trials see it."""
    from optuna.trial import TrialState

    # skip_if_finished: under SLURM every rank of a DDP trial runs the job and may tell
    load_study(sweep_dir).tell(
        optuna_trial_number(), state=TrialState.PRUNED, skip_if_finished=True
    )
