"""Sweeps as one story in MLflow: a parent run per sweep, a child run per trial."""

from pathlib import Path

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
    return parent, tags
