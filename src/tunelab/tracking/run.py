"""The training process's handle on its MLflow run: opened with params and tags, fed the run's
bookkeeping through a few named methods, ended once with a status.

MLflow itself works in tunelab.tracking.writer, by default in a side process started when the
run opens: the store opens there while this process imports torch and Lightning, and metric
writes never wait for the store. This module imports neither MLflow nor torch.
"""

import atexit
import contextlib
import functools
import itertools
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

import yaml

from tunelab.cli.runtime import process_rank
from tunelab.errors import UserError
from tunelab.tracking.identity import RunIdentity
from tunelab.tracking.params import knob_params
from tunelab.tracking.requests import (
    EndRun,
    Flush,
    LogArtifact,
    LogArtifacts,
    LogConfusionMatrix,
    LogDatasets,
    LogDict,
    LogEstimator,
    LogMetrics,
    LogModel,
    LogText,
    PrepareModel,
    Reattach,
    Request,
    SetTags,
    StartBeside,
    StartRun,
)

log = logging.getLogger(__name__)


class TrackingError(UserError):
    """The MLflow store could not be opened or the run could not be created."""


class Writer(Protocol):
    """send gives an answered request a ticket; receive(ticket) waits for its answer (answers
    come in the order the writer completes them: a run's end after the next run's start)."""

    def send(self, request: Request) -> int | None: ...
    def receive(self, ticket: int) -> tuple[bool, Any]: ...


class WriterProcess:
    """`python -m tunelab.tracking.writer` with pipes to it; one per process, reused by its trials."""

    def __init__(self) -> None:
        # Its own session: Ctrl-C reaches the training process alone, which then ends the run.
        detached: dict[str, Any] = (
            {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}  # Windows only
            if os.name == "nt"
            else {"start_new_session": True}
        )
        # MLflow's INFO lines (a new store's "Creating initial MLflow database tables...")
        # say nothing a user acts on; MLFLOW_LOGGING_LEVEL=INFO in the environment brings them back.
        env = {"MLFLOW_LOGGING_LEVEL": "WARNING", **os.environ}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tunelab.tracking.writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            **detached,
        )
        self.tickets = itertools.count()
        self.replies: dict[int, tuple[bool, Any]] = {}  # read, not yet asked for

    def alive(self) -> bool:
        return self.process.poll() is None

    def why_stopped(self, error: BaseException) -> str:
        """How it ended, for the console: its signal or exit code, else the pipe's error."""
        if self.process.poll() is None:  # the pipe broke first: make sure it is gone
            self.process.kill()
            self.process.wait()
        code = self.process.returncode
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}" if code else type(error).__name__

    def send(self, request: Request) -> int | None:
        assert self.process.stdin is not None
        ticket = next(self.tickets) if request.answered else None
        pickle.dump((ticket, request), self.process.stdin)
        self.process.stdin.flush()
        return ticket

    def receive(self, ticket: int) -> tuple[bool, Any]:
        assert self.process.stdout is not None
        while ticket not in self.replies:
            answered, reply = pickle.load(self.process.stdout)
            self.replies[answered] = reply
        return self.replies.pop(ticket)

    def close(self) -> None:
        """No more requests: the writer finishes what it has and exits on its own (every run
        was ended, and answered, before this)."""
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(OSError):  # it died already
                self.process.stdin.close()


# A writer serves one run at a time. A job's run is written by the "job" process; the runs it
# holds while it is open (the seeds of repeats=N, tunelab.jobs.repeats) by the "repeat" one.
_processes: dict[str, WriterProcess] = {}


def writer_process(slot: str = "job") -> WriterProcess:
    """The side process of `slot`, started on first use (or again if it died)."""
    process = _processes.get(slot)
    if process is None or not process.alive():
        process = _processes[slot] = WriterProcess()
        atexit.register(process.close)
    return process


def ask(writer: Writer, request: Request) -> Callable[[], tuple[bool, Any]]:
    """Send `request`, one the writer answers; the function that waits for its (ok, value)."""
    ticket = writer.send(request)
    assert ticket is not None, f"{type(request).__name__} is not answered"
    return functools.partial(writer.receive, ticket)


# Each slot's runs share its writer's pipe, and a replacement after it died: one lock each.
_locks: dict[str, threading.RLock] = {}


def slot_lock(slot: str) -> threading.RLock:
    return _locks.setdefault(slot, threading.RLock())


def close_writer() -> None:
    """Let the side processes exit once their work is done (a later request starts new ones)."""
    for process in _processes.values():
        process.close()
    _processes.clear()


def open_writer(mode: str, slot: str = "job") -> Writer:
    """mode: process (the default) or inline (MLflow's calls in this process, one per run)."""
    if mode == "inline":
        from tunelab.tracking.writer import InlineWriter

        return InlineWriter()
    return writer_process(slot)


# A writer process that dies is started again up to this many times in one run, each time with
# the run's requests sent again; after that MLflow's calls move into the training process.
RESTARTS = 3
WATCH_SECONDS = 1.0  # how often a run checks that its writer process is alive


class TrackedRun:
    """One MLflow run per job. Requests go to the writer in order; only the run id
    (wait_started) and end wait for an answer, and a sweep's trial does not wait for its end
    (end(wait=False): settled later, see settle_ended_runs). writer=None: a process that
    tracks nothing (a DDP rank other than 0).

    The run keeps every request it sent (its journal). When the writer process dies (the OOM
    killer, a plugin's crash) another one is started and the journal is sent to it again:
    every write is idempotent (MLflow keeps one copy of a metric point with the same key,
    step, value and timestamp; artifacts and tags are overwritten; a model already logged is
    not logged again), so the store ends as if nothing had happened. Runs ended without
    waiting that the dead writer had not finished are sent again first, each with its end.
    Only MLflow's system metrics, sampled by the dead writer, miss the seconds it took."""

    def __init__(
        self,
        *,
        writer: Writer | None,
        start: StartRun | StartBeside,
        config: dict[str, Any] | None = None,
        output_dir: str | Path | None = None,
        log_checkpoints: bool = True,
        log_models: bool = True,
        register_as: str | None = None,
        data_fingerprint: str | None = None,
        slot: str = "job",
    ) -> None:
        """start: the request that creates (or reopens) the run; config: the job's resolved
        config (config.yaml, every checkpoint's); data_fingerprint: the data expected (a
        rerun's source run's); slot: the writer process a replacement is taken from."""
        self.writer, self.uri, self.slot = writer, start.uri, slot
        config = config or {}
        self.config = config  # the job's resolved config: the run's params, every checkpoint's
        self.output_dir = Path(output_dir) if output_dir else None  # the job's files (Hydra's)
        self.log_checkpoints = log_checkpoints
        self.log_models, self.register_as = log_models, register_as
        self._started: tuple[bool, Any] | None = None
        self.lost: str | None = None  # why the writer went away, if it did
        self.training_started = False  # set by log_setup, just before the fit
        self.data_fingerprint = data_fingerprint
        self.start_request = start  # sent again when the writer died before answering it
        self.journal: list[Request] = []  # every unanswered request, to send again
        self.ending: EndRun | None = None  # sent, its answer awaited
        self.tickets: dict[str, int | None] = {"start": None, "end": None}  # answers awaited
        self.restarts = 0
        self.closed = False  # ended and settled: the watch stops
        self.lock = slot_lock(slot)  # the watch threads and this one share the pipe
        replay_dead_ends(slot)  # before this run's start: a writer serves one open run at a time
        self._send(start)
        if log_models:
            self._send(PrepareModel())
        self._watch()

    # --- the bookkeeping of a training job, in the order it happens ---

    def log_config(self) -> None:
        """The resolved config and the overrides, beside the job's outputs and in the run."""
        if self.output_dir is None:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        config_file = self.output_dir / "config.yaml"
        config_file.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.log_artifact(config_file)
        overrides = self.output_dir / ".hydra" / "overrides.yaml"
        if overrides.exists():
            self.log_artifact(overrides)

    def lightning_logger(self) -> Any:
        """Lightning's logger interface over this run (imports Lightning)."""
        from tunelab.tracking.lightning_logger import RunLogger

        return RunLogger(self)

    def log_setup(self, datamodule: Any, trainer: Any) -> None:
        """What the run trains on: the data and the device. Waits until the run exists, so a
        store that cannot be opened stops the job here, before training."""
        run_id = self.wait_started()
        if run_id and self.output_dir is not None:  # a requeued job continues this run
            remember_run(self.output_dir, run_id)
        data = datamodule.data
        tags = {f"data.{k}": v for k, v in datamodule.summary.items()}
        if self.data_fingerprint not in (None, tags["data.fingerprint"]):
            log.warning(
                "the data differs from the recorded run's: data.fingerprint %s, recorded %s",
                tags["data.fingerprint"],
                self.data_fingerprint,
            )
        if data.classes:
            tags["data.classes"] = ", ".join(data.classes)
        if averaging := weight_averaging(trainer):
            tags["weight_averaging"] = averaging  # validation, checkpoints and the model use it
        device = trainer.strategy.root_device if trainer is not None else None  # None: sklearn
        tags["device"] = str(device or "cpu")
        if device is not None and device.type == "cuda":
            import torch

            tags["device.name"] = torch.cuda.get_device_name(device)
        self.set_tags(tags)
        if data.info:  # label mapping, columns, folders
            self.log_dict(data.info, "data_info.json")
        self._send(LogDatasets(dataset_inputs(datamodule)))
        self.training_started = True

    def log_start(self, init: Any, vectors: dict[str, str], quiet: bool) -> None:
        """What the network started from beside random weights: init_from's report (tags,
        init_from.json, and its line on the console unless quiet) and the word vectors'
        coverage (tags)."""
        tags = dict(vectors)
        if init is not None:
            tags |= init.tags()
            self.log_dict(init.record(), "init_from.json")
            if not quiet:
                print(init.line())
        self.set_tags(tags)

    def log_checkpoint(self, path: str | None) -> None:
        """The best checkpoint of fit (tracking.log_checkpoint); the writer then stores the
        epochs' metrics while the test runs, not after it."""
        if path and self.log_checkpoints:
            self.log_artifact(path, "checkpoints")
        self.flush()

    def log_results(self, objective: float, epochs: int) -> None:
        """After the test: the objective, the epochs trained, and any profiler report."""
        self.log_metrics({"objective": objective, "epochs_trained": epochs})
        if self.output_dir is not None:
            for report in sorted((self.output_dir / "profile").glob("*.txt")):  # debug=profile
                self.log_artifact(report, "profile")

    def log_costs(self, costs: dict[str, float], runtime: str) -> None:
        """What the best model costs to ship (tunelab.export.cost), and what timed it."""
        if costs:
            self.log_metrics(costs)
            self.set_tags({"cost.runtime": runtime})

    def folder(self, name: str) -> Path:
        """A folder of the job's files (a temporary one where the job has none)."""
        if self.output_dir is None:
            import tempfile

            return Path(tempfile.mkdtemp(prefix=f"tunelab-{name}-"))
        return self.output_dir / name

    def log_confusion_matrix(self, counts: Any, classes: list[str]) -> None:
        """The test split's [true, predicted] counts as confusion_matrix.png (drawn by the
        writer, which imports matplotlib, not this process)."""
        if counts is not None:
            self._send(LogConfusionMatrix(counts.tolist(), list(classes)))

    def log_model(
        self, checkpoint: str | None, metadata: dict[str, Any], example: Any, metrics: Mapping
    ) -> None:
        """The best checkpoint as the run's MLflow model (tracking.log_model), with `example`
        (raw inputs) and linked to `metrics` (the test results); the writer builds it."""
        if not (checkpoint and self.log_models):
            return
        facts = {k: metadata[k] for k in ("task", "classes", "targets", "input_shape", "inputs")}
        self._send(
            LogModel(
                str(Path(checkpoint).resolve()),
                facts,
                example,
                list(metrics),
                self.register_as,
                sent_ms=int(time.time() * 1000),
            )
        )

    def prepare_estimator_logging(self) -> None:
        """The writer imports what a scikit-learn model's logging needs, while the job fits."""
        if self.log_models:
            self._send(PrepareModel(estimators=True))

    def log_estimator(self, estimator: Any, example: Any, metrics: Mapping) -> None:
        """A baseline's fitted estimator as the run's MLflow model, linked to `metrics`; the
        writer logs it, so this process imports neither MLflow nor skops."""
        if self.log_models:
            self._send(LogEstimator(estimator, example, list(metrics), int(time.time() * 1000)))

    def end(
        self,
        status: str,
        tags: dict[str, str] | None = None,
        error: BaseException | None = None,
        delete: bool = False,
        wait: bool = True,
    ) -> None:
        """status: FINISHED, FAILED or KILLED, with tags; an error's traceback becomes error.txt.
        delete: the run is deleted once ended (MLflow's delete: gone from the UI and searches,
        purged by `mlflow gc`). Waits until the writer has written everything (its model,
        plots, end), unless `wait` is false: the run is then settled by settle_ended_runs."""
        settle_ended_runs()  # one run's last writes at a time: a slow store holds the next back
        if status != "KILLED" and self.output_dir is not None:  # only a stopped run continues
            forget_run(self.output_dir)
        if error is not None and self.output_dir is not None and not delete:
            report = self.output_dir / "error.txt"
            try:
                self.output_dir.mkdir(parents=True, exist_ok=True)
                report.write_text("".join(traceback.format_exception(error)))
                self.log_artifact(report)
            except OSError:  # a full or read-only disk, the reason of the error itself
                self.log_text("".join(traceback.format_exception(error)), "error.txt")
        if tags:
            self.set_tags(tags)
        if self.output_dir is not None and not delete:  # the job's log (Hydra's file handler)
            for log_file in sorted(self.output_dir.glob("*.log")):
                self.log_artifact(log_file)
        try:
            self.wait_started()
        except TrackingError:
            return  # there is no run to end
        if self.writer is None:
            return
        self._send(EndRun(status, delete))
        if wait:
            self.settle()
        else:
            _ending.append(self)

    def settle(self) -> None:
        """The answer to the run's end: the failures of its writes as warnings, and `lost` set
        when the artifact store refused its files."""
        if self.closed or self.ending is None:
            return
        with self.lock:  # answered and closed at once: a watch thread never replays it
            ok, answer = self._receive("end") if self.writer else (False, self.lost)
            self.closed = True
        with contextlib.suppress(ValueError):
            _ending.remove(self)
        status = self.ending.status
        ended, errors = cast(tuple[str, list[str]], answer) if ok else (status, [str(answer)])
        for message in errors:
            log.warning("MLflow write failed: %s", message)
        if ended != status:  # the artifact store refused the run's files
            self.lost = (
                "the artifact store did not take this run's files: the run is FAILED in MLflow "
                "with its metrics; point tracking.uri at a store whose artifacts this machine "
                "can write, and resume= or reproduce= it"
            )

    # --- the requests themselves ---

    def wait_started(self) -> str | None:
        """The run id, once the writer has created the run (None when nothing is tracked here);
        the writer answers (run id, experiment id)."""
        if self._started is None:
            if self.writer is None and self.lost is None:
                return None  # a process that tracks nothing
            self._started = self._receive("start") if self.writer else (False, self.lost)
        ok, value = self._started
        if not ok:
            from tunelab.cli.redact import mask_text

            raise TrackingError(
                mask_text(
                    f"MLflow could not start the run in tracking.uri={self.uri}: "
                    f"{str(value).rstrip('.')}. Point tracking.uri (or MLFLOW_TRACKING_URI) at a "
                    "store this machine can reach."
                )
            )
        run_id, _experiment_id = cast(tuple[str, str], value)
        return run_id

    @property
    def run_id(self) -> str | None:
        return self.wait_started()

    @property
    def experiment_id(self) -> str | None:
        """The run's experiment (the writer answers its start with both ids)."""
        return self._started[1][1] if self.wait_started() and self._started else None

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._send(SetTags({k: str(v) for k, v in tags.items()}))

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        if self.lost is not None and self._started is not None:
            # Training on would measure what no store keeps: the job stops, FAILED.
            raise TrackingError(f"{self.lost}; the store no longer takes this run's metrics")
        now = int(time.time() * 1000)
        # int(step): Lightning may hand a logged "step" over as a float, which MLflow's REST
        # store refuses in MLflow 3.7 ("'float' object cannot be interpreted as an integer").
        self._send(LogMetrics([(k, float(v), now, int(step)) for k, v in metrics.items()]))

    def flush(self) -> None:
        """Have the writer store the metrics it holds now (it does not wait for its interval)."""
        self._send(Flush())

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        self._send(LogArtifact(str(Path(path).resolve()), folder))

    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> None:
        """Every file under `folder`, under `artifact_path` in the run."""
        self._send(LogArtifacts(str(Path(folder).resolve()), artifact_path))

    def log_dict(self, data: dict[str, Any], file: str) -> None:
        self._send(LogDict(data, file))

    def log_text(self, text: str, file: str) -> None:
        self._send(LogText(text, file))

    def _send(self, request: Request) -> None:
        if self.writer is None or (self._started is not None and not self._started[0]):
            return  # nothing is tracked here, or the run never started
        with self.lock:
            if isinstance(request, EndRun):
                self.ending = request
            elif request is not self.start_request:
                self.journal.append(request)
            writer = self.writer
            try:
                self._ticket(request, writer.send(request))
            except OSError as error:
                self._recover(writer, error)

    def _ticket(self, request: Request, ticket: int | None) -> None:
        """Remember the ticket of the start's or the end's answer."""
        if request is self.start_request:
            self.tickets["start"] = ticket
        elif isinstance(request, EndRun):
            self.tickets["end"] = ticket

    def _receive(self, which: str) -> tuple[bool, Any]:
        """The answer to the run's start or end (`which`)."""
        with self.lock:
            while self.writer is not None:
                writer, ticket = self.writer, self.tickets[which]
                assert ticket is not None  # sent, to this writer
                try:
                    return writer.receive(ticket)
                except (EOFError, OSError) as error:
                    self._recover(writer, error)  # the awaited request is sent again
            return False, self.lost

    def _recover(self, failed: Writer, error: BaseException) -> None:
        """The writer died: start another (after RESTARTS, write from this process) and send
        it this run's requests again, after those of the runs ended before this one that it had
        not finished (it serves one open run at a time). When none can take them, the run's
        tracking is lost: before the run started the job stops (wait_started), after that at
        its next metric."""
        with self.lock:
            if self.closed or self.writer is not failed:
                return  # recovered already (by the watch thread), or ended and answered
            for other in [r for r in _ending if r is not self and r.slot == self.slot]:
                if other.writer is failed:  # ended: none is open on the writer
                    other._restart(failed, error)
            self._restart(failed, error)

    def _restart(self, failed: Writer, error: BaseException) -> None:
        why = failed.why_stopped(error) if isinstance(failed, WriterProcess) else str(error)
        while self.restarts <= RESTARTS:
            self.restarts += 1
            try:
                writer = self._replay(self.restarts <= RESTARTS)
            except (EOFError, OSError) as again:  # the new one died too
                why = type(again).__name__
                continue
            except TrackingError as problem:
                why = str(problem)
                break
            self.writer = writer
            where = (
                "started again"
                if isinstance(writer, WriterProcess)
                else "its writes moved into this process"
            )
            log.warning(
                "the MLflow writer process stopped (%s): %s, and sent this run's %d requests "
                "again; nothing is lost",
                why,
                where,
                len(self.journal),
            )
            return
        self.lost = f"the MLflow writer process stopped ({why}) and could not be replaced"
        self.writer = None
        log.error("%s: this run's tracking is incomplete", self.lost)

    def _replay(self, as_process: bool) -> Writer:
        """A new writer that has been sent the run's start (or its reattachment) and journal."""
        writer = writer_process(self.slot) if as_process else open_writer("inline")
        if self._started is None:  # its answer is still awaited (wait_started)
            self._ticket(self.start_request, writer.send(self.start_request))
        else:
            run_id, _experiment = cast(tuple[str, str], self._started[1])
            reattach = Reattach(
                self.uri,
                run_id,
                self.start_request.flush_seconds,
                getattr(self.start_request, "system_metrics_seconds", 0.0),
                self.start_request.heartbeat_seconds,
            )
            ok, value = ask(writer, reattach)()
            if not ok:
                raise TrackingError(str(value))
        for request in self.journal:
            writer.send(request)
        if self.ending is not None:
            self._ticket(self.ending, writer.send(self.ending))
        return writer

    def _watch(self) -> None:
        """A thread that notices within WATCH_SECONDS that the writer process died, and
        recovers, even while this process trains without logging anything."""
        if not isinstance(self.writer, WriterProcess):
            return

        def watch() -> None:
            while not self.closed and self.writer is not None:
                time.sleep(WATCH_SECONDS)
                writer = self.writer
                if self.closed or not isinstance(writer, WriterProcess) or writer.alive():
                    continue
                if self.lock.acquire(blocking=False):  # else this thread's owner recovers
                    try:
                        self._recover(writer, EOFError())
                    finally:
                        self.lock.release()

        threading.Thread(target=watch, name="tunelab-writer-watch", daemon=True).start()


# Runs ended without waiting (a sweep's trials, end(wait=False)) whose end is not yet
# answered, oldest first: their writer completes them while the next trial runs.
_ending: list[TrackedRun] = []


def settle_ended_runs() -> None:
    """Wait until every run ended without waiting has ended in the store (the sweep callback,
    before its parent run reads the trials; the next run's end): its warnings printed, a dead
    writer's work sent again."""
    for run in list(_ending):
        run.settle()


def replay_dead_ends(slot: str) -> None:
    """Send the runs ended without waiting whose writer process died before it finished them
    to a new one (each with its end), so that they come before the next run's start there."""
    with slot_lock(slot):
        for run in list(_ending):
            writer = run.writer
            if run.slot == slot and isinstance(writer, WriterProcess) and not writer.alive():
                run._recover(writer, EOFError())


def open_run(
    cfg: Any,
    config: dict[str, Any],
    identity: RunIdentity,
    output_dir: str | Path,
    resume_run_id: str | None = None,
    data_fingerprint: str | None = None,
    slot: str = "job",
    log_model: bool | None = None,
) -> TrackedRun:
    """The job's MLflow run, from conf/tracking; its params are the resolved `config`, saved
    as config.yaml too; `resume_run_id` reopens that run instead. In a distributed job only
    rank 0 tracks. slot: the writer process (a run opened while another is open takes its
    own); log_model: whether its best checkpoint becomes an MLflow model (default:
    tracking.log_model)."""
    writer = open_writer(cfg.writer, slot) if process_rank() == 0 else None
    tags = {**identity.tags, **{str(k): str(v) for k, v in (cfg.get("tags") or {}).items()}}
    if identity.parent_run_id:
        tags["mlflow.parentRunId"] = identity.parent_run_id
    start = StartRun(
        uri=cfg.uri,
        experiment=cfg.experiment,
        name=cfg.get("run_name") or identity.name,
        tags=tags,
        params=knob_params(config, identity.choices, list(cfg.not_params)),
        flush_seconds=cfg.flush_seconds,
        resume_run_id=resume_run_id,
        system_metrics_seconds=cfg.system_metrics_seconds,
        heartbeat_seconds=cfg.heartbeat_seconds,
    )
    run = TrackedRun(
        writer=writer,
        start=start,
        config=config,
        output_dir=output_dir,
        log_checkpoints=cfg.log_checkpoint,
        log_models=cfg.log_model if log_model is None else log_model,
        register_as=cfg.register_as,
        data_fingerprint=data_fingerprint,
        slot=slot,
    )
    run.log_config()
    if identity.diff:  # a dirty tree: what the commit in git.commit lacks, to reproduce the run
        run.log_text(identity.diff, "git.diff")
    return run


# Dataset inputs: each split of the run's data, in MLflow's dataset form (the UI's Datasets).
CONTEXTS = {"train": "training", "val": "validation", "test": "test"}


def weight_averaging(trainer: Any) -> str | None:
    """ema or swa when the trainer averages weights (callbacks=ema, swa), else None."""
    from lightning.pytorch.callbacks import WeightAveraging

    for callback in getattr(trainer, "callbacks", []):
        if isinstance(callback, WeightAveraging):
            name = type(callback).__name__
            return {"EMAWeightAveraging": "ema", "SWA": "swa"}.get(name, name)
    return None


def dataset_inputs(datamodule: Any) -> list[dict[str, str]]:
    """One dataset input per split: name and split, the content fingerprint as digest, where
    it was read from, the input shape as its schema, its size and classes (or regression
    targets) as profile."""
    import json

    data, summary = datamodule.data, datamodule.summary
    info = data.info or {}
    where = info.get("file") or info.get("root") or info.get("folder")
    source = {"uri": str(where)} if where else {"source": summary["name"]}
    shape = [-1, *datamodule.input_shape]
    dtype = str(data.x.dtype).removeprefix("torch.")  # float32, or a text's int64 token ids
    spec = {"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}}
    schema = {"mlflow_tensorspec": {"features": json.dumps([spec]), "targets": None}}
    outputs = {k: summary[k] for k in ("num_classes", "targets") if k in summary}
    return [
        {
            "name": f"{summary['name']}/{split}",
            "digest": summary["fingerprint"],
            "source_type": "local" if where else "code",
            "source": json.dumps(source),
            "schema": json.dumps(schema),
            "profile": json.dumps({"num_rows": summary[f"{split}_size"], **outputs}),
            "context": context,
        }
        for split, context in CONTEXTS.items()
        if f"{split}_size" in summary
    ]


# Left in a job's folder while its run trains: a job launched again in the same folder (SLURM
# requeued it after the time-limit signal, or a pre-emption) continues that run. Removed when
# the run ends FINISHED or FAILED.
RUN_FILE = ".run_id"


def remember_run(output_dir: Path, run_id: str) -> None:
    (output_dir / RUN_FILE).write_text(run_id)


def forget_run(output_dir: Path) -> None:
    (output_dir / RUN_FILE).unlink(missing_ok=True)


def relaunched_run(output_dir: str | Path) -> str | None:
    """The run an earlier launch of this job started in this folder and did not end."""
    file = Path(output_dir) / RUN_FILE
    return file.read_text().strip() if file.exists() else None
