"""One wrapper for every job (train.py, eval.py, export.py): its config checked once before
anything heavy is imported, its MLflow run ended once, and one failure policy.

A job's run ends exactly once: FINISHED (a trial the Optuna sweeper pruned too, tagged
trial.state=pruned); FAILED with the error; KILLED on Ctrl-C or a stop signal. A sweep's trial
prints one line as it ends. A user's mistake ends in one line and, in
a single run, leaves no run behind. In a sweep a failed trial is recorded and the sweep goes on
(on_trial_error=continue) or stops. What differs between the jobs is a JobSpec
(tunelab.jobs.specs): its check, its pipeline, and for training a run opened first.
"""

import logging
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from tunelab.cli.moved import upgrade_config
from tunelab.cli.redact import mask_logs, mask_saved_configs, mask_text
from tunelab.cli.runtime import (
    Terminated,
    distributed_env,
    end_distributed,
    release_memory,
    stop_signal_name,
    stop_signals_raise,
)
from tunelab.errors import ConfigError, UserError
from tunelab.sweeps.pruning import is_pruned, tell_pruned
from tunelab.sweeps.state import stop_sweep, stopped_sweep_reason, trial_identity, trials_run_here
from tunelab.tracking.requests import FetchCheckpoint, Request, StartBeside
from tunelab.tracking.run import TrackedRun, TrackingError, ask, open_writer
from tunelab.training.rerun import resumable

if TYPE_CHECKING:
    from tunelab.inference.checkpoint import TrainedModel

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A running job: its config, where it runs, its MLflow run once opened, its results."""

    cfg: DictConfig
    hydra_cfg: Any
    in_sweep: bool
    run: TrackedRun | None = None
    objective: float = math.nan  # what the job returns to Hydra's sweepers; NaN if it failed
    objective_name: str = "objective"  # what `objective` is (val/acc_best, test/rmse), to show
    spread: str = ""  # repeats=N: ` ± 0.0021 (3 seeds)`, shown after the objective
    results: dict[str, float] = field(default_factory=dict)  # what it measured, by metric
    started: float = field(default_factory=time.time)  # when the job began (its runs' start)

    @property
    def output_dir(self) -> str:
        return str(self.hydra_cfg.runtime.output_dir)

    def ask(self, request: Request) -> Callable[[], Any]:
        """Send the MLflow writer a request that it answers (it works while this process goes
        on importing); the function that waits for the answer, raising a UserError's line."""
        reply = ask(open_writer(self.cfg.tracking.writer), request)

        def answer() -> Any:
            ok, value = reply()
            if not ok:
                raise UserError(str(value))
            return value

        return answer

    def selected_model(self, folder: Path) -> "TrainedModel":
        """The model the config names (ckpt_path, run_id or model_uri): the MLflow writer
        fetches its checkpoint (into `folder` from a store) while this process imports torch."""
        cfg = self.cfg
        fetched = self.ask(
            FetchCheckpoint(cfg.tracking.uri, cfg.ckpt_path, cfg.run_id, cfg.model_uri, str(folder))
        )
        from tunelab.inference.checkpoint import load_model

        return load_model(fetched())

    def open_run_beside(
        self,
        model: "TrainedModel",
        kind: str,
        tags: dict[str, str],
        params: dict[str, str] | None = None,
    ) -> TrackedRun:
        """The run of an evaluation, prediction or export (`kind`) of `model`, beside the run
        that trained it (tunelab.tracking.requests.StartBeside); a sweep's trial is the child
        of the sweep's parent run."""
        tracking = self.cfg.tracking
        trained_in = model.config.get("tracking", {}).get("experiment", tracking.experiment)
        name, parent = Path(self.cfg.get("ckpt_path") or "model").stem, None
        if self.in_sweep:
            parent, trial_tags, trial = trial_identity(self.hydra_cfg)
            tags = {**tags, **trial_tags}
            name = trial if parent else name
        self.run = self._beside(
            kind=kind,
            source_run_id=model.metadata.get("run_id"),
            experiment=trained_in,
            name=name,
            tags=tags,
            params=params,
            parent=parent,
        )
        self.run.wait_started()  # a store that refuses the run: one line
        return self.run

    def open_failed_trial(self, kind: str) -> TrackedRun:
        """The run of a sweep's eval or export trial that stopped before it opened one (a bad
        value, a model that cannot be found): the child of the sweep's parent run, so the
        summary counts it FAILED with its reason."""
        parent, tags, name = trial_identity(self.hydra_cfg)
        self.run = self._beside(
            kind=kind,
            source_run_id=None,
            experiment=self.cfg.tracking.experiment,
            name=name,
            tags=tags,
            params=None,
            parent=parent,
        )
        return self.run

    def _beside(
        self,
        *,
        kind: str,
        source_run_id: str | None,
        experiment: str,
        name: str,
        tags: dict[str, str],
        params: dict[str, str] | None,
        parent: str | None,
    ) -> TrackedRun:
        """A TrackedRun starting the run of `kind` (tunelab.tracking.requests.StartBeside)."""
        from tunelab.tracking.identity import masked_provenance

        tracking = self.cfg.tracking
        start = StartBeside(
            uri=tracking.uri,
            kind=kind,
            source_run_id=source_run_id,
            experiment=experiment,
            name=name,
            tags={**masked_provenance(self.cfg.paths.root_dir), "tunelab.job": kind, **tags},
            params=params or {},
            parent_run_id=parent,
            flush_seconds=tracking.flush_seconds,
            heartbeat_seconds=tracking.heartbeat_seconds,
            started_ms=int(self.started * 1000),
        )
        return TrackedRun(
            writer=open_writer(tracking.writer),
            start=start,
            output_dir=self.output_dir,
            log_checkpoints=False,
            log_models=False,
        )


@dataclass(frozen=True)
class JobSpec:
    """What differs between train.py, eval.py and export.py; the rest is run_job."""

    name: str  # the script's (hydra.job.name)
    check: Callable[[DictConfig], str | None]  # the config's problems, before heavy imports
    pipeline: Callable[[DictConfig, Job], float]  # the job: imports what it needs, the objective
    # A run opened before the pipeline (training's, whose store opens while torch loads).
    open_first: Callable[[DictConfig, Job], TrackedRun] | None = None
    # Otherwise the pipeline opens its run beside the model's training run, of this kind
    # (evaluate, predict, export): a sweep's trial that fails before that gets one of it.
    run_kind: Callable[[DictConfig], str] | None = None


def run_job(cfg: DictConfig, spec: JobSpec) -> Job:
    """Check cfg, run spec's pipeline, end its run as it ended; the finished Job (its
    objective is what Hydra's sweepers read)."""
    hydra_cfg = HydraConfig.get()
    job = Job(cfg, hydra_cfg, in_sweep=hydra_cfg.mode == RunMode.MULTIRUN)
    upgrade_config(cfg)  # a fork's YAML or a command line naming a module by its old path
    problem = spec.check(cfg)  # checked once
    if problem and not job.in_sweep:
        raise SystemExit(mask_text(f"tunelab: {problem}"))  # before any heavy import
    if job.in_sweep and (reason := stopped_sweep_reason(hydra_cfg)):
        raise RuntimeError(f"not run: the sweep was stopped ({reason})")
    # Secrets masked in what Hydra saved and logs, before anything is written.
    mask_saved_configs(hydra_cfg.runtime.output_dir)
    mask_logs()
    if job.in_sweep:
        mask_saved_configs(hydra_cfg.sweep.dir)
        from tunelab.cli.console import quiet_trial_console

        quiet_trial_console()  # one line per trial on the console; everything in its log file
    environment = distributed_env()
    error: BaseException | None = None
    try:
        with stop_signals_raise():
            if spec.open_first is not None:
                job.run = spec.open_first(cfg, job)
            if problem:  # in a sweep, a bad value makes a FAILED trial, not a dead sweep
                raise ConfigError(problem)
            job.objective = spec.pipeline(cfg, job)
    except BaseException as caught:
        error = caught
    ended = how_it_ended(error)
    if job.in_sweep and ended == "failed" and job.run is None and spec.run_kind is not None:
        job.open_failed_trial(spec.run_kind(cfg))
    if job.run is not None:
        # A single run's bad setting or data file stops it before training: its run is
        # deleted, so the experiment holds runs that trained and no row per typo. A sweep
        # keeps the trial FAILED: its summary counts every trial it asked for.
        # A resumed run is never deleted: it holds what its earlier attempts trained.
        started = job.run.training_started
        mistake = isinstance(error, UserError) and not job.in_sweep and not started
        mistake = mistake and not cfg.get("resume")
        if started and ended in ("failed", "interrupted") and (found := resumable(job.output_dir)):
            resume = f"resume={job.run.run_id} continues from checkpoints/{found}"
            job.run.set_tags({"resumable": resume})
        # A trial in the sweep's process does not wait for its run's last writes (its model,
        # plots, end): the writer finishes them while the next trial starts.
        settled_later = job.in_sweep and trials_run_here(hydra_cfg)
        end_run(job.run, ended, error, delete=mistake, trial=job.in_sweep, wait=not settled_later)
        if error is None and job.run.lost:  # it trained, and the store lost some of it
            error, ended = TrackingError(job.run.lost), "failed"
    end_distributed(environment)  # a DDP trial's processes: the next trial starts its own
    release_memory()  # the next trial of a sweep starts with none of this one's data
    if error is not None:
        job.objective = after_failure(error, ended, cfg, hydra_cfg, job.in_sweep)
    if job.in_sweep:  # the trial's one line (a sweep that stops has raised above)
        print_trial_line(job, ended, error)
    elif error is None and job.run is not None and job.run.run_id:  # rank 0 of a DDP job
        from tunelab.cli.console import print_run

        print_run(
            job.run.run_id, str(job.run.experiment_id), cfg.tracking.uri, folder=job.output_dir
        )
    return job


def print_trial_line(job: Job, ended: str, error: BaseException | None) -> None:
    """`trial #3 adamw lr=1e-3: finished, val/acc_best 0.9704 (2.1 s)` on the console, and in
    the trial's log."""
    from tunelab.cli.console import trial_line

    name = trial_identity(job.hydra_cfg)[2]
    seconds = time.time() - job.started
    if ended == "pruned":
        epoch, value = getattr(error, "epoch", "?"), getattr(error, "value", None)
        monitor = job.cfg.get("objective", {}).get("metric", "objective")
        result = f"pruned at epoch {epoch}" + ("" if value is None else f", {monitor} {value:.4f}")
    elif ended == "finished":
        result = f"finished, {job.objective_name} {job.objective:.4f}{job.spread}"
    else:
        reason = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
        log_file = Path(job.output_dir) / f"{job.hydra_cfg.job.name}.log"
        result = f"failed: {mask_text(reason)} (the traceback: {log_file})"
    line = trial_line(name, result, seconds)
    print(line, flush=True)
    log.info(line)  # the trial's log file (its console shows warnings only)


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The config resolved once, secrets masked: params, config.yaml, checkpoints, console."""
    from tunelab.cli.redact import mask_config

    return mask_config(OmegaConf.to_container(cfg, resolve=True))


def prepare_console(config: dict[str, Any] | None) -> None:
    """Print the resolved config (print_config=true), and quiet the libraries' noise."""
    from tunelab.cli.console import print_config, quiet_library_noise

    if config is not None:
        print_config(config)
    quiet_library_noise()


# How a job ended, the status its run gets, and a sweep trial's state (tag trial.state). A
# pruned trial stopped as designed: FINISHED, not KILLED (MLflow has no state for it).
STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED", "pruned": "FINISHED"}
TRIAL_STATE = {
    "finished": "finished",
    "failed": "failed",
    "interrupted": "stopped",
    "pruned": "pruned",
}


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


def end_run(
    run: TrackedRun,
    ended: str,
    error: BaseException | None,
    delete: bool = False,
    trial: bool = False,
    wait: bool = True,
) -> None:
    """The one place a job's run ends: its status, why, an error's traceback, and a sweep
    trial's state; a pruned trial's epoch and the objective it had reached then. wait: for
    the writer to have written all of it (TrackedRun.end)."""
    why: dict[str, str] = {"trial.state": TRIAL_STATE[ended]} if trial else {}
    if ended == "pruned":
        epoch, value = getattr(error, "epoch", None), getattr(error, "value", None)
        if epoch is not None:
            why["trial.pruned_epoch"] = str(epoch)
        if epoch is not None and value is not None:
            run.log_metrics({"objective": value, "epochs_trained": epoch + 1})
        error = None  # no traceback: nothing went wrong
    elif ended == "interrupted" and (name := stop_signal_name()):
        why["error"] = (
            f"{name}: stopped by a signal ({'Ctrl-C' if name == 'SIGINT' else 'kill, a scheduler'})"
        )
    elif error is not None:
        why["error"] = mask_text(f"{type(error).__name__}: {error}")
    run.end(STATUS[ended], why, error, delete, wait)


def after_failure(
    error: BaseException, ended: str, cfg: DictConfig, hydra_cfg, in_sweep: bool
) -> float:
    """NaN for a trial the sweep goes on without; otherwise the error is raised again, a
    user's mistake as one line."""
    if ended == "pruned":
        if in_sweep:
            tell_pruned(hydra_cfg.sweep.dir)  # at once, so the sweeper and other trials see it
        else:  # a DDP trial's other rank, run outside the sweep: its rank 0 told the study
            log.info("pruned: %s", error)
        return math.nan
    if in_sweep and ended == "failed":
        what = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
        trial = mask_text(f"trial {hydra_cfg.job.num} failed: {what}")
        if cfg.get("on_trial_error", "continue") == "continue":
            # The traceback to the trial's log file only: its console shows warnings and up,
            # and the trial's one line (print_trial_line) says where to find it.
            log.info("%s (its run is FAILED in MLflow; the sweep goes on)", trial, exc_info=error)
            return math.nan
        stop_sweep(hydra_cfg, trial)
        if isinstance(error, UserError):  # one line, as a single run's (it says what to change)
            raise SystemExit(f"tunelab: {trial}; the sweep stops (on_trial_error=stop)") from None
        raise error
    if isinstance(error, UserError):  # the message says what to change; no traceback
        raise SystemExit(mask_text(f"tunelab: {error}")) from None
    if ended == "interrupted" and (name := stop_signal_name()):
        log.error("stopped by %s: the run is KILLED in MLflow", name)
        raise SystemExit(128 + int(getattr(signal, name))) from None  # as a shell reports it
    raise error
