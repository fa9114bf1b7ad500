"""A job around a task: its config checked, its MLflow run opened, and how it ends, in one place.

A single run stops on a bad config before anything heavy is imported. The run ends exactly
once: FINISHED; FAILED with the error; KILLED on Ctrl-C or when the Optuna sweeper prunes it.
In a sweep a failed trial is recorded and the sweep goes on (on_trial_error=continue) or stops.
"""

import logging
import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from tunelab.checks import config_error
from tunelab.errors import UserError
from tunelab.pruning import is_pruned, tell_pruned
from tunelab.redact import mask_config, mask_logs, mask_saved_configs, mask_text
from tunelab.rerun import recorded_source, rerun_tags
from tunelab.runtime import (
    Terminated,
    distributed_env,
    end_distributed,
    imports_frozen_out_of_gc,
    release_memory,
    remember_trial_command,
    stop_signal_name,
    stop_signals_raise,
)
from tunelab.tracking import TrackedRun, open_run
from tunelab.tracking.identity import job_identity
from tunelab.tracking.sweep import (
    earlier_trial,
    relaunched_run,
    stop_sweep,
    stopped_sweep_reason,
)

log = logging.getLogger(__name__)


@dataclass
class Job:
    run: TrackedRun
    objective: float = math.nan  # what the task returns to Hydra's sweepers; NaN if it failed


@contextmanager
def tracked_job(cfg: DictConfig) -> Iterator[Job]:
    """Open the job's MLflow run (its store opens in a side process while torch loads), yield
    it to the task, and end it as the task ended."""
    hydra_cfg = HydraConfig.get()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    problem = config_error(cfg)  # checked once
    if problem and not in_sweep:
        raise SystemExit(mask_text(f"tunelab: {problem}"))  # before any heavy import
    if in_sweep and (reason := stopped_sweep_reason(hydra_cfg)):
        raise RuntimeError(f"not run: the sweep was stopped ({reason})")
    if in_sweep:  # a DDP trial's other ranks run this trial, not the sweep
        remember_trial_command(list(hydra_cfg.overrides.task), hydra_cfg.runtime.output_dir)
    if in_sweep and (earlier := earlier_trial(hydra_cfg)):  # unfinished in an earlier sweep
        with open_dict(cfg):
            cfg.resume = earlier["run_id"]  # continues in its run, from its last checkpoint
    elif in_sweep and (stopped := relaunched_run(hydra_cfg.runtime.output_dir)):  # requeued
        with open_dict(cfg):
            cfg.resume = stopped
    with imports_frozen_out_of_gc():
        lr, fold = cfg.optimizer.get("lr"), cfg.data.get("fold")  # the run's name shows them
        identity = job_identity(hydra_cfg, cfg.paths.root_dir, lr, fold, in_sweep)
        # Resolved once, secrets masked: params, config.yaml, checkpoints, the console.
        config = mask_config(OmegaConf.to_container(cfg, resolve=True))
        mask_saved_configs(hydra_cfg.runtime.output_dir)
        mask_logs()
        if in_sweep:
            mask_saved_configs(hydra_cfg.sweep.dir)
        source = recorded_source(cfg)  # resume=RUN_ID, reproduce=RUN_ID: the recorded run
        identity.tags.update(rerun_tags(cfg))
        run = open_run(
            cfg.tracking,
            config,
            identity,
            hydra_cfg.runtime.output_dir,
            resume_run_id=cfg.get("resume"),
            data_fingerprint=source.tags.get("data.fingerprint") if source else None,
        )
        prepare_console(config if cfg.get("print_config") else None)  # imports Lightning, torch
    job = Job(run)
    environment = distributed_env()
    error: BaseException | None = None
    try:
        with stop_signals_raise():
            if problem:  # in a sweep, a bad value makes a FAILED trial, not a dead sweep
                raise problem
            yield job
    except BaseException as caught:
        error = caught
    ended = how_it_ended(error)
    # A single run's bad setting or data file stops it before training: its run is deleted,
    # so the experiment holds runs that trained and no row per typo. A sweep keeps the trial
    # FAILED: its summary counts every trial it asked for.
    user_mistake = isinstance(error, UserError) and not in_sweep and not run.training_started
    end_run(run, ended, error, delete=user_mistake)
    end_distributed(environment)  # a DDP trial's processes: the next trial starts its own
    release_memory()  # the next trial of a sweep starts with none of this one's data
    if error is not None:
        job.objective = after_failure(error, ended, cfg, hydra_cfg, in_sweep)
    elif run.run_id:  # not on the other ranks of a distributed job
        from tunelab.console import print_run

        print_run(run.run_id, str(run.experiment_id), cfg.tracking.uri)


def prepare_console(config: dict[str, Any] | None) -> None:
    """Print the resolved config (print_config=true), and quiet the libraries' noise."""
    from tunelab.console import print_config, quiet_library_noise

    if config is not None:
        print_config(config)
    quiet_library_noise()


# How a job ended, and the status its run gets.
STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED", "pruned": "KILLED"}


def how_it_ended(error: BaseException | None) -> str:
    if error is None:
        return "finished"
    if is_pruned(error):  # the Optuna sweeper's pruner stopped the trial
        return "pruned"
    if isinstance(error, KeyboardInterrupt | SystemExit | Terminated) or stop_signal_name():
        # Ctrl-C (Lightning turns it into sys.exit(1)), SIGTERM (Lightning's SIGTERMException
        # is a SystemExit), or whatever error a signal caused where it landed
        return "interrupted"
    return "failed"


def end_run(run: TrackedRun, ended: str, error: BaseException | None, delete: bool = False) -> None:
    """The one place a job's run ends: its status, why, and an error's traceback."""
    why: dict[str, str] = {}
    if ended == "pruned":
        why, error = {"pruned": "true", "pruned.reason": str(error)}, None  # no traceback
    elif ended == "interrupted" and (name := stop_signal_name()):
        why = {
            "error": f"{name}: stopped by a signal ({'Ctrl-C' if name == 'SIGINT' else 'kill, a scheduler'})"
        }
    elif error is not None:
        why = {"error": mask_text(f"{type(error).__name__}: {error}")}
    run.end(STATUS[ended], why, error, delete)


def after_failure(
    error: BaseException, ended: str, cfg: DictConfig, hydra_cfg, in_sweep: bool
) -> float:
    """NaN for a trial the sweep goes on without; otherwise the error is raised again, a
    user's mistake as one line."""
    if ended == "pruned":
        if in_sweep:
            log.info("trial %s pruned: %s", hydra_cfg.job.num, error)
            tell_pruned(hydra_cfg.sweep.dir)  # at once, so the sweeper and other trials see it
        else:  # a DDP trial's other rank, run outside the sweep: its rank 0 told the study
            log.info("pruned: %s", error)
        return math.nan
    if in_sweep and ended == "failed":
        trial = mask_text(f"trial {hydra_cfg.job.num} failed: {type(error).__name__}: {error}")
        if cfg.on_trial_error == "continue":
            log.error("%s (its run is FAILED in MLflow; the sweep goes on)", trial)
            return math.nan
        stop_sweep(hydra_cfg, trial)
        raise error
    if isinstance(error, UserError):  # the message says what to change; no traceback
        raise SystemExit(mask_text(f"tunelab: {error}")) from None
    if ended == "interrupted" and (name := stop_signal_name()):
        log.error("stopped by %s: the run is KILLED in MLflow", name)
        raise SystemExit(128 + int(getattr(signal, name))) from None  # as a shell reports it
    raise error
