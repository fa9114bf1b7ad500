"""Sweeps as one story in MLflow: a parent run per sweep, a child run per trial."""

import json
import math
from pathlib import Path
from typing import Any

from tunelab.pruning import optuna_trial_number

# Written by the sweep callback into the sweep folder, read by every trial, whatever
# process or machine the launcher runs it in.
PARENT_FILE = ".mlflow_parent_run_id"


def trial_identity(hydra_cfg) -> tuple[str | None, dict[str, str]]:
    """(parent run id, the trial's tags) for a job of a multirun."""
    parent_file = Path(hydra_cfg.sweep.dir) / PARENT_FILE
    parent = parent_file.read_text().strip() if parent_file.exists() else None
    tags = {
        "sweep.trial": str(hydra_cfg.job.num),
        "sweep.trial_overrides": " ".join(hydra_cfg.overrides.task),
        "sweep.dir": str(hydra_cfg.sweep.dir),
    }
    number = optuna_trial_number()
    if number is not None:
        tags["optuna.trial"] = str(number)
    return parent, tags


# With on_trial_error=stop, the first failing trial leaves this file in the sweep folder and
# later trials end before they start. Hydra's launchers run a whole batch of jobs even after
# one fails, so the stop is signalled through the folder every launcher shares.
STOP_FILE = ".stop_sweep"


def stopped_sweep_reason(hydra_cfg) -> str | None:
    stop = Path(hydra_cfg.sweep.dir) / STOP_FILE
    return stop.read_text() if stop.exists() else None


def stop_sweep(hydra_cfg, reason: str) -> None:
    (Path(hydra_cfg.sweep.dir) / STOP_FILE).write_text(reason)


# Written by the sweep callback when a sweep runs again in the folder of an earlier one (a
# killed grid sweep re-run with hydra.sweep.dir=...): each earlier trial's run by its overrides.
EARLIER_FILE = ".earlier_trials.json"


def write_earlier_trials(sweep_dir: Path, trials: dict[str, dict[str, Any]]) -> None:
    (sweep_dir / EARLIER_FILE).write_text(json.dumps(trials))


def earlier_trial(hydra_cfg) -> dict[str, Any] | None:
    """This trial's run in an earlier sweep in the same folder: run_id, status, objective."""
    file = Path(hydra_cfg.sweep.dir) / EARLIER_FILE
    if not file.exists():
        return None
    from tunelab.redact import mask_text

    overrides = mask_text(" ".join(hydra_cfg.overrides.task))  # as its tag recorded them
    return json.loads(file.read_text()).get(overrides)


def finished_objective() -> float | None:
    """The objective of this trial when an earlier sweep in this folder finished it (its run
    is reused); None when it has to run."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    earlier = earlier_trial(hydra_cfg)
    if earlier is None or earlier["status"] != "FINISHED":
        return None
    print(f"trial {hydra_cfg.job.num} finished in the earlier sweep: run {earlier['run_id']} kept")
    objective = earlier["objective"]
    return math.nan if objective is None else float(objective)
