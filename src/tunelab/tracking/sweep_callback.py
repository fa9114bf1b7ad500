"""The Hydra callback that makes a multirun one MLflow parent run with a child per trial."""

import atexit
import logging
import signal
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from tunelab.runtime import received_signals, stop_signal_name
from tunelab.tracking.sweep import PARENT_FILE, swept_keys, write_swept_keys

log = logging.getLogger(__name__)


class MLflowSweepCallback(Callback):
    """on_multirun_start opens the parent run; on_multirun_end writes its summary and ends it.

    A sweep that dies (a trial raising with on_trial_error=stop, Ctrl-C) never reaches
    on_multirun_end, so an exit handler ends the parent then: KILLED on Ctrl-C, FAILED otherwise.
    """

    def __init__(self) -> None:
        self.parent_run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from tunelab.redact import mask_logs, mask_text
        from tunelab.tracking.identity import sweep_identity
        from tunelab.tracking.reachable import StoreProblem
        from tunelab.tracking.stale import end_stale_sweeps
        from tunelab.tracking.store import MAX_RUN_NAME, clip, experiment_id, log_batch, open_store

        mask_logs()  # Hydra logs each trial's overrides as it launches it
        self.config = config
        try:
            self.client = open_store(config.tracking.uri)
        except StoreProblem as problem:
            uri = config.tracking.uri
            raise SystemExit(
                mask_text(f"tunelab: the sweep cannot use tracking.uri={uri}: {problem}")
            ) from None
        self.experiment_id = experiment_id(
            self.client, config.tracking.experiment, config.tracking.uri
        )
        for stale in end_stale_sweeps(self.client, [self.experiment_id]):
            log.warning("ended sweep run %s KILLED: its process had died without ending it", stale)
        overrides = list(config.hydra.overrides.task)
        swept = swept_keys(overrides, config.hydra.sweeper.get("params"))
        identity = sweep_identity(config, overrides, swept)
        name = clip(identity.name, MAX_RUN_NAME)
        sweep_dir = Path(config.hydra.sweep.dir)
        self.parent_run_id = self._earlier_parent(sweep_dir)
        if self.parent_run_id is None:
            run = self.client.create_run(self.experiment_id, run_name=name)
            self.parent_run_id = run.info.run_id
        log_batch(self.client, self.parent_run_id, tags=identity.tags)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / PARENT_FILE).write_text(self.parent_run_id)
        write_swept_keys(sweep_dir, swept)
        atexit.register(self._end_unfinished)
        # Between trials (and in a launcher that runs them elsewhere) the stop signals reach
        # this process here; during an in-process trial, its job's handlers record them.
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        log.info("MLflow parent run %s: %s", self.parent_run_id, name)

    def _earlier_parent(self, sweep_dir: Path) -> str | None:
        """A sweep run again in an earlier sweep's folder continues that sweep: the same parent
        (RUNNING again), its finished trials kept, the others resumed in their own runs (a grid
        sweep; an Optuna study resumes through its storage). None for a new folder."""
        from mlflow.exceptions import MlflowException

        from tunelab.tracking.sweep import STOP_FILE, write_earlier_trials
        from tunelab.tracking.trials import fetch_trials

        parent_file = sweep_dir / PARENT_FILE
        if not parent_file.exists():
            return None
        parent = parent_file.read_text().strip()
        try:
            self.client.update_run(parent, status="RUNNING")
        except MlflowException:  # the earlier parent is not in this store: a new sweep
            return None
        (sweep_dir / STOP_FILE).unlink(missing_ok=True)
        trials = fetch_trials(self.client, self.experiment_id, parent)
        if "optuna" not in str(self.config.hydra.sweeper.get("_target_", "")):
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
        log.info("continuing sweep run %s: %d of its %d trials finished", parent, done, len(trials))
        return parent

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent_run_id is None:
            return
        self._finish("FINISHED")
        atexit.unregister(self._end_unfinished)

    def _on_signal(self, signum, frame) -> None:
        received_signals.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)  # SIGTERM: the sweep exits as a shell reports it

    def _end_unfinished(self) -> None:
        """At exit, a sweep that never reached on_multirun_end: KILLED by a signal (which one is
        tagged), FAILED otherwise."""
        name = stop_signal_name()
        if name and self.parent_run_id:
            self.client.set_tag(
                self.parent_run_id, "error", f"{name}: the sweep was stopped by a signal"
            )
        self._finish("KILLED" if name else "FAILED")

    def _finish(self, status: str) -> None:
        from tunelab.console import print_run
        from tunelab.tracking.summary import log_sweep_summary

        run_id = self.parent_run_id
        assert run_id is not None  # set by on_multirun_start
        sweep_dir = Path(self.config.hydra.sweep.dir)
        self._end_running_children()
        summary = log_sweep_summary(
            self.client,
            self.experiment_id,
            run_id,
            self.config.objective.metric,
            self.config.objective.mode,
            sweep_dir / "summary",
            search_lines(self.config),
        )
        registered = self._register_best(summary) if status == "FINISHED" else {}
        self.client.set_terminated(run_id, status)
        self.parent_run_id = None
        print(
            f"sweep {status.lower()}: {summary['trials_finished']} of {summary['trials_total']} trials finished, "
            f"{summary['trials_failed']} failed"
        )
        if "best.overrides" in summary:
            print(
                f"best trial #{summary['best.trial']}: {summary['best.overrides']} -> {summary['best_objective']:.4f}"
            )
        if "best_fold.overrides" in summary:
            print(
                f"best fold group: {summary['best_fold.overrides']} -> "
                f"{summary['best_fold_mean']:.4f} +- {summary['best_fold_std']:.4f}"
            )
        for key, value in registered.items():
            print(f"{key}: {value}")
        print(f"summary in {sweep_dir / 'summary'}")
        print_run(run_id, self.experiment_id, self.config.tracking.uri, "MLflow parent run")

    def _register_best(self, summary: dict[str, object]) -> dict[str, str]:
        """The best trial's model as a new version of tracking.sweep_model, the alias moved
        to it when it beats the current holder; recorded as tags on the parent run."""
        from tunelab.tracking.models import register_best
        from tunelab.tracking.store import log_batch

        name, best = self.config.tracking.get("sweep_model"), summary.get("best.run_id")
        if not name or not best:
            return {}
        try:
            tags = register_best(
                self.client,
                str(name),
                self.config.tracking.sweep_alias,
                str(best),
                float(summary["best_objective"]),  # type: ignore[arg-type]
                self.config.objective.mode,
            )
        except Exception as error:  # the sweep's results stand; the parent still ends
            log.warning("registering the best model failed: %s", error)
            tags = {"registered_model": f"failed: {type(error).__name__}: {error}"}
        log_batch(self.client, str(self.parent_run_id), tags=tags)
        return tags

    def _end_running_children(self) -> None:
        """Children still RUNNING when the sweep ends were cut off (Ctrl-C, a killed worker)."""
        running = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{self.parent_run_id}' and attributes.status = 'RUNNING'",
        )
        for run in running:
            self.client.set_terminated(run.info.run_id, "KILLED")


def search_lines(config: DictConfig) -> dict[str, str]:
    """What the sweep searched, for its note: each swept key with its values or distribution,
    then the sweeper, its sampler and pruner (Optuna) and the launcher, by class name."""
    from tunelab.overrides import is_sweep, overrides_dict
    from tunelab.redact import mask_text

    sweeper = config.hydra.sweeper
    swept = [o for o in config.hydra.overrides.task if is_sweep(o)]
    lines = {key: mask_text(value) for key, value in overrides_dict(swept).items()}
    lines |= {str(k): str(v) for k, v in (sweeper.get("params") or {}).items()}
    for role, node in (
        ("sweeper", sweeper),
        ("sampler", sweeper.get("sampler")),
        ("pruner", sweeper.get("pruner")),
        ("launcher", config.hydra.launcher),
    ):
        if node and node.get("_target_"):
            lines[role] = str(node["_target_"]).rsplit(".", 1)[-1]
    return lines
