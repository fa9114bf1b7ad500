"""Sweeps as one story in MLflow: a parent run per sweep, a child run per trial."""

from pathlib import Path

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
