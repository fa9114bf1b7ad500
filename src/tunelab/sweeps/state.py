"""Sweeps as one story in MLflow: a parent run per sweep, a child run per trial."""

import json
import math
import shlex
from pathlib import Path
from typing import Any

from tunelab.cli.overrides import is_sweep, override_key, overrides_dict
from tunelab.sweeps.pruning import optuna_trial_number
from tunelab.tracking.identity import RunIdentity, data_label, masked, provenance_tags

# Written by the sweep callback into the sweep folder, read by every trial, whatever
# process or machine the launcher runs it in: the parent run's id, and the swept keys.
PARENT_FILE = ".mlflow_parent_run_id"
SWEPT_FILE = ".swept_keys.json"

# A trial's states (its run's tag trial.state, set by tunelab.jobs.wrapper.end_run), in the
# order a sweep's summary counts them: stopped is a signal or a killed worker.
STATES = ("finished", "pruned", "failed", "stopped")

# Short names of swept keys in trial names; any other key is named by its last part, and a
# group choice (optimizer=adamw) by its value alone.
SHORT = {"weight_decay": "wd", "batch_size": "bs", "label_smoothing": "ls", "hidden_dim": "hidden"}


def plain(value: Any) -> Any:
    """A config value as plain Python (a ListConfig of run ids, of points to ask)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def swept_keys(overrides: list[str], search_space: dict | None) -> list[str]:
    """The keys a sweep varies: command-line overrides in sweep syntax (a list, a range, an
    interval, a choice) and the sweeper's own params (hparams_search)."""
    keys = [override_key(o) for o in overrides if is_sweep(o)]
    return list(dict.fromkeys([*keys, *(search_space or {})]))


def write_swept_keys(sweep_dir: Path, keys: list[str]) -> None:
    (sweep_dir / SWEPT_FILE).write_text(json.dumps(keys))


def add_swept_keys(sweep_dir: Path, keys: list[str]) -> None:
    """Keys the sweeper searches beyond the callback's (a choice's own knobs)."""
    file = sweep_dir / SWEPT_FILE
    known = json.loads(file.read_text()) if file.exists() else []
    write_swept_keys(sweep_dir, list(dict.fromkeys([*known, *keys])))


def short_value(value: str) -> str:
    """0.0031622776 -> 3.2e-3, 0.25 -> 0.25, 128 -> 128, adamw -> adamw."""
    try:
        number = float(value)
    except ValueError:
        return value
    if number.is_integer() and "." not in value and "e" not in value.lower():
        return value
    if number != 0 and not 1e-2 <= abs(number) < 1e4:
        mantissa, exponent = f"{number:.1e}".split("e")
        return f"{mantissa.removesuffix('.0')}e{int(exponent)}"
    return f"{number:.3g}"


def trial_name(number: str, overrides: list[str], swept: list[str]) -> str:
    """#3 lr=3e-3 wd=1e-4 adamw: the trial number and each swept value, short."""
    values = overrides_dict(overrides)
    parts = []
    for key in swept:
        if key not in values:
            continue
        if "." not in key:  # a group choice
            parts.append(values[key])
        else:
            last = key.rsplit(".", 1)[-1]
            parts.append(f"{SHORT.get(last, last)}={short_value(values[key])}")
    return " ".join([f"#{number}", *parts])


def trial_identity(hydra_cfg) -> tuple[str | None, dict[str, str], str]:
    """(parent run id, the trial's tags, its name) for a job of a multirun."""
    sweep_dir = Path(hydra_cfg.sweep.dir)
    parent_file, swept_file = sweep_dir / PARENT_FILE, sweep_dir / SWEPT_FILE
    parent = parent_file.read_text().strip() if parent_file.exists() else None
    swept = json.loads(swept_file.read_text()) if swept_file.exists() else []
    tags = {
        "sweep.trial": str(hydra_cfg.job.num),
        # quoted as a shell would: a value may hold spaces ([{metric: cost/params, mode: min}])
        "sweep.trial_overrides": shlex.join(hydra_cfg.overrides.task),
        "sweep.dir": str(hydra_cfg.sweep.dir),
    }
    number = optuna_trial_number()
    if number is not None:
        tags["optuna.trial"] = str(number)
    shown = str(number) if number is not None else str(hydra_cfg.job.num)
    return parent, tags, trial_name(shown, list(hydra_cfg.overrides.task), swept)


def sweep_identity(config, overrides: list[str], swept: list[str]) -> RunIdentity:
    """A multirun's parent run: named after its search (hparams_search) or its swept keys, its
    data unless swept, and when it started, so two sweeps of the same keys tell apart:
    `sweep lr wd on digits 11-24 10:03:12`."""
    from datetime import datetime

    search = config.hydra.runtime.choices.get("hparams_search")
    keys = [key.rsplit(".", 1)[-1] for key in swept]
    what = (
        search or "sweep " + " ".join(SHORT.get(k, k) for k in keys)
        if (search or keys)
        else "sweep"
    )
    data = data_label(config, config.hydra.runtime.choices.get("data"))
    if data and not any(key == "data" or key.startswith("data.source.") for key in swept):
        what += f" on {data}"
    tags = {
        **provenance_tags(config.paths.root_dir),
        "sweep.overrides": " ".join(overrides) or "(none)",
        "sweep.dir": str(config.hydra.sweep.dir),
        "sweep.sweeper": config.hydra.sweeper.get("_target_", "unknown"),
        "sweep.launcher": config.hydra.launcher.get("_target_", "unknown"),
    }
    return masked(RunIdentity(f"{what} {datetime.now():%m-%d %H:%M:%S}", tags))


# With on_trial_error=stop, the first failing trial leaves this file in the sweep folder and
# later trials end before they start. Hydra's launchers run a whole batch of jobs even after
# one fails, so the stop is signalled through the folder every launcher shares.
STOP_FILE = ".stop_sweep"


def trials_run_here(hydra_cfg) -> bool:
    """Whether the launcher runs the trials in the sweep's own process (Hydra's basic
    launcher): the callback's process, which then settles the trials' runs
    (tunelab.tracking.run.settle_ended_runs)."""
    return "BasicLauncher" in str(hydra_cfg.launcher.get("_target_", ""))


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
    from tunelab.cli.redact import mask_text

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
