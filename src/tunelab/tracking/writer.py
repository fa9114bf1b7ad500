"""MLflow's side of a run: applies the requests of a TrackedRun to an MlflowClient.

Run as `python -m tunelab.tracking.writer` it is a side process: it reads pickled (ticket,
request) pairs (tunelab.tracking.requests) on stdin and answers those that need an answer on its
stdout, with their ticket. Importing MLflow and opening the store (about 2 s here) then overlap
the training process's import of torch and Lightning, and no MLflow write ever holds up a
training step. A run's last writes (its MLflow model, its plots, its end) are done on a thread
of their own: a sweep's next trial starts its run while they finish, and the end's answer comes
when they have. With tracking.writer=inline the training process calls RunWriter itself.
"""

import functools
import gc
import importlib
import itertools
import os
import pickle
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from mlflow import MlflowClient
from mlflow.entities import Metric

from tunelab.errors import UserError
from tunelab.tracking.heartbeat import beat, beat_age, is_dead
from tunelab.tracking.reachable import StoreProblem
from tunelab.tracking.requests import (
    Abandon,
    EndRun,
    FetchCheckpoint,
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
from tunelab.tracking.store import MAX_RUN_NAME, clip, experiment_id, log_batch, open_store

# Tags that say how a run ended (tunelab.jobs.wrapper.end_run): a resumed run drops them.
ENDING_TAGS = {"error", "pruned", "pruned.reason"}


@dataclass
class Ending:
    """What a run's last writes need, taken from the writer when the run ends: the writer then
    opens the next run while the finisher thread completes this one."""

    client: MlflowClient
    run_id: str
    errors: list[str]  # the run's failed writes, answered with its end
    files_lost: list[str]
    drawing: list[Future] = field(default_factory=list)
    monitor: Any = None
    heart: threading.Event = field(default_factory=threading.Event)


class RunWriter:
    """One run at a time; metrics are buffered and written in one batch every flush_seconds.

    A write per log call is a SQLite transaction each: a quarter of a small epoch when it ran
    in the training process (measured on digits). Metrics keep their own timestamps and steps,
    so the history is the same; the UI sees new values at most flush_seconds late.
    """

    client: MlflowClient  # the store of the current run, set by start

    def __init__(self, finisher: bool = True) -> None:
        """finisher: a run's last writes on a thread of their own (else in the caller's)."""
        # A process reused by several trials opens each store once.
        self.clients: dict[str, MlflowClient] = {}
        self.run_id = ""  # "" while no run is open
        self.uri = ""
        self.pending: list[Metric] = []
        self.latest: dict[str, Metric] = {}  # each key's last value, to link to a logged model
        self.errors: list[str] = []
        self.files_lost: list[str] = []  # this run's files the artifact store refused
        self.flush_seconds = 5.0
        self.last_flush = time.monotonic()
        self.monitor: Any = None  # MLflow's SystemMetricsMonitor of the current run
        self.heart = threading.Event()  # set: the current run's heartbeat stops
        # Imports and the confusion matrix beside the other writes, on this one thread.
        self.background = ThreadPoolExecutor(1, thread_name_prefix="writer-background")
        self.drawing: list[Future] = []
        self.background.submit(importlib.import_module, "tunelab.tracking.confusion")
        # The model logging and end of each run, in order (FIFO), beside the next run's writes.
        self.finisher = (
            ThreadPoolExecutor(1, thread_name_prefix="writer-finish") if finisher else None
        )

    def handle(self, request: Request) -> tuple[bool, Any] | Future | None:
        """Apply one request: an answered one gets (ok, value), or a future of it (a run's end,
        answered once its last writes are done); the failures of the others are kept for the
        run's end."""
        if request.needs_run and not self.run_id:  # the run never started
            self.pending = []
            nothing: Any = (request.status, []) if isinstance(request, EndRun) else []
            return (True, nothing) if request.answered else None
        try:
            value = self.serve(request)
        except Exception as error:  # the training goes on; the failure is reported at end
            message = failure(request, error, self.errors, self.files_lost)
            return (False, message) if request.answered else None
        if isinstance(value, Future):
            return answer_of(value)
        return (True, value) if request.answered else None

    def later(self, work: Callable[..., Any], *args: Any) -> Future:
        """`work` on the finisher thread, after what was handed to it before."""
        if self.finisher is not None:
            return self.finisher.submit(work, *args)
        done: Future = Future()
        try:
            done.set_result(work(*args))
        except Exception as error:
            done.set_exception(error)
        return done

    def drain(self) -> None:
        """Wait until every run handed to the finisher has ended."""
        self.later(lambda: None).result()

    def serve(self, request: Request) -> Any:
        """The method that serves each request type (mypy narrows `request` in each case)."""
        match request:
            case StartRun():
                return self.start(request)
            case StartBeside():
                return self.start_beside(request)
            case Reattach():
                return self.reattach(request)
            case FetchCheckpoint():
                return self.fetch_checkpoint(request)
            case PrepareModel():
                return self.prepare_model(request.estimators)
            case LogDatasets():
                return self.log_datasets(request.datasets)
            case SetTags():
                return self.set_tags(request.tags)
            case LogMetrics():
                return self.log_metrics(request.metrics)
            case Flush():
                return self.flush()
            case LogArtifact():
                return self.log_artifact(request.path, request.folder)
            case LogArtifacts():
                return self.log_artifacts(request.path, request.folder)
            case LogDict():
                return self.log_dict(request.data, request.file)
            case LogText():
                return self.log_text(request.text, request.file)
            case LogConfusionMatrix():
                return self.log_confusion_matrix(request.counts, request.classes)
            case LogModel() | LogEstimator():
                return self.log_model(request)
            case EndRun():
                return self.end_later(request.status, request.delete)
            case Abandon():
                return self.abandon()
        # Declared elsewhere: the sweep's parent run, whose summary reads its trials, ended.
        self.drain()
        return request.apply(self.store)

    def start(self, request: StartRun) -> tuple[str, str]:
        """Create the run with its params and tags, or reopen `resume_run_id` (RUNNING again,
        tags updated; its params stay as first logged: MLflow refuses a changed value)."""
        uri, tags, resume_run_id = request.uri, request.tags, request.resume_run_id
        self.begin(uri, request.flush_seconds)
        if resume_run_id:
            old = self.client.get_run(resume_run_id)
            check_not_running_elsewhere(old)
            self.client.update_run(resume_run_id, status="RUNNING")
            self.run_id = resume_run_id
            for key in ENDING_TAGS & old.data.tags.keys():  # how it ended before no longer holds
                self.client.delete_tag(resume_run_id, key)
            log_batch(self.client, self.run_id, tags=tags)
            experiment_ = old.info.experiment_id
        else:
            experiment_ = experiment_id(self.client, request.experiment, uri)
            run = self.client.create_run(experiment_, run_name=clip(request.name, MAX_RUN_NAME))
            self.run_id = run.info.run_id
            log_batch(self.client, self.run_id, params=request.params, tags=tags)
        self.experiment_id = experiment_
        self.watch_system(request.system_metrics_seconds, resumed=bool(resume_run_id))
        self.beat(request.heartbeat_seconds)
        return self.run_id, experiment_

    def reattach(self, request: Reattach) -> tuple[str, str]:
        """The run a dead writer left RUNNING, to write on: the requests replayed next."""
        self.begin(request.uri, request.flush_seconds)
        self.run_id = request.run_id
        self.experiment_id = self.client.get_run(request.run_id).info.experiment_id
        self.watch_system(request.system_metrics_seconds, resumed=True)
        self.beat(request.heartbeat_seconds)
        return self.run_id, self.experiment_id

    def begin(self, uri: str, flush_seconds: float) -> None:
        """A new run's state, in the store of `uri`."""
        self.run_id, self.errors, self.pending, self.latest = "", [], [], {}
        self.uri = uri
        self.client = self.store(uri)
        self.flush_seconds, self.last_flush = flush_seconds, time.monotonic()

    def start_beside(self, request: StartBeside) -> tuple[str, str]:
        """The run of an evaluation, prediction or export, beside its model's training run
        (tunelab.tracking.requests.StartBeside says where)."""
        self.begin(request.uri, request.flush_seconds)
        source = self.source_run(request.source_run_id)
        parent = request.parent_run_id  # a sweep's trial: the child of the sweep's run
        if parent:
            experiment = self.client.get_run(parent).info.experiment_id
            name = request.name
        elif source is not None:  # nested under the run that trained the model
            experiment, parent = source.info.experiment_id, source.info.run_id
            name = f"{RUN_PREFIX[request.kind]} of {source.info.run_name}"
        else:  # a checkpoint from elsewhere: the experiment it was trained in, by name
            experiment = experiment_id(self.client, request.experiment, request.uri)
            name = f"{RUN_PREFIX[request.kind]} of {request.name}"
        trained_by = source.info.run_name if source is not None else request.name
        tags = {
            **request.tags,
            "tunelab.source_run": request.source_run_id or "unknown",
            "mlflow.note.content": description(request.kind, request.source_run_id, trained_by),
        }
        if parent:
            tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(
            experiment, start_time=request.started_ms, run_name=clip(name, MAX_RUN_NAME)
        )
        self.run_id, self.experiment_id = run.info.run_id, experiment
        log_batch(self.client, self.run_id, params=request.params, tags=tags)
        self.beat(request.heartbeat_seconds)
        return self.run_id, experiment

    def source_run(self, run_id: str | None) -> Any:
        """The run that trained a model, None when it is not in this store."""
        if not run_id:
            return None
        try:
            return self.client.get_run(run_id)
        except Exception:  # the checkpoint's run lives in another store
            return None

    def fetch_checkpoint(self, request: FetchCheckpoint) -> str:
        from tunelab.tracking.registry import download_checkpoint, quiet_model_logging

        with quiet_model_logging():  # no migration lines, no progress bars
            try:
                client = self.store(request.uri)
            except StoreProblem as problem:
                raise UserError(f"tracking.uri={request.uri}: {problem}") from None
            return download_checkpoint(
                client, request.ckpt_path, request.run_id, request.model_uri, Path(request.folder)
            )

    def store(self, uri: str) -> MlflowClient:
        """The client of `uri`, opened once per process (checked: a problem in seconds, not
        after MLflow's minutes of retries)."""
        if uri not in self.clients:
            self.clients[uri] = open_store(uri)
        return self.clients[uri]

    def watch_system(self, seconds: float, resumed: bool) -> None:
        """MLflow's system metrics (system/cpu_utilization_percentage, memory, disk, network,
        GPUs when nvidia-ml-py finds them) every `seconds` from a thread of this process, so
        the training process pays nothing; 0: none."""
        if seconds <= 0:
            return
        import logging

        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
        self.monitor = SystemMetricsMonitor(
            self.run_id, sampling_interval=seconds, resume_logging=resumed, tracking_uri=self.uri
        )
        self.monitor.start()

    def beat(self, seconds: float) -> None:
        """The run's heartbeat (tunelab.tracking.heartbeat) every `seconds`, from a thread,
        until the run ends; 0: none."""
        self.heart.set()  # the previous run's, if any
        if seconds <= 0:
            return
        client, run_id, self.heart = self.client, self.run_id, threading.Event()
        log_batch(client, run_id, tags=beat(seconds))
        heart = self.heart

        def beating() -> None:
            while not heart.wait(seconds):
                try:
                    log_batch(client, run_id, tags=beat())
                except Exception:  # a store that hiccups: the next beat tries again
                    continue

        threading.Thread(target=beating, name="tunelab-heartbeat", daemon=True).start()

    def log_datasets(self, datasets: list[dict[str, str]]) -> None:
        """The run's data as MLflow dataset inputs, one per split (its context)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [
            DatasetInput(
                Dataset(
                    d["name"], d["digest"], d["source_type"], d["source"], d["schema"], d["profile"]
                ),
                tags=[InputTag("mlflow.data.context", d["context"])],
            )
            for d in datasets
        ]
        self.client.log_inputs(self.run_id, datasets=inputs)

    def set_tags(self, tags: dict[str, str]) -> None:
        log_batch(self.client, self.run_id, tags=tags)

    def log_metrics(self, metrics: list[tuple[str, float, int, int]]) -> None:
        """metrics: (key, value, timestamp in ms, step) each."""
        new = [Metric(*m) for m in metrics]
        self.pending += new
        self.latest.update((m.key, m) for m in new)
        if time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.last_flush = time.monotonic()
        log_batch(self.client, self.run_id, metrics=pending)

    def log_artifact(self, path: str, folder: str | None) -> None:
        self.client.log_artifact(self.run_id, path, folder)

    def log_artifacts(self, path: str, folder: str | None) -> None:
        self.client.log_artifacts(self.run_id, path, folder)

    def log_dict(self, data: dict[str, Any], file: str) -> None:
        self.client.log_dict(self.run_id, data, file)

    def log_text(self, text: str, file: str) -> None:
        self.client.log_text(self.run_id, text, file)

    def log_confusion_matrix(self, counts: list[list[int]], classes: list[str]) -> None:
        """Drawn and logged on the drawing thread, while the model is logged; end waits for it."""
        self.drawing.append(
            self.background.submit(
                draw_confusion, self.client, self.run_id, counts, classes, self.errors
            )
        )

    def prepare_model(self, estimators: bool) -> None:
        """Import what log_model needs, on the background thread, while the training runs."""
        from tunelab.tracking.registry import prepare_model_logging

        self.background.submit(prepare_model_logging, estimators)

    def log_model(self, request: LogModel | LogEstimator) -> None:
        """The checkpoint (or a baseline's estimator) as the run's MLflow model, on the finisher
        thread (about 0.6 s for the default network: the run's end, and a sweep's next trial,
        need not wait for it here)."""
        self.flush()  # the test metrics it links, in the store first
        linked = [self.latest[k] for k in request.metric_keys if k in self.latest]
        run = (self.uri, self.client, self.run_id, self.experiment_id)
        errors, files_lost = self.errors, self.files_lost  # this run's, whatever runs next

        def logged() -> None:
            try:
                log_model(*run, request, linked)
            except Exception as error:  # reported with the run's end, like any failed write
                failure(request, error, errors, files_lost)

        self.later(logged)

    def end(self, status: str, delete: bool = False) -> tuple[str, list[str]]:
        """end_later, waited for."""
        return self.end_later(status, delete).result()

    def end_later(self, status: str, delete: bool = False) -> Future:
        """Write the pending metrics, then hand the run to the finisher thread, which ends it
        with `status` (and deletes it: a job that never started training) once its model and
        plots are written; a future of (the status it ended with, the failures of this run's
        writes). The writer is free for the next run at once."""
        self.flush()
        ending = Ending(
            self.client,
            self.run_id,
            self.errors,
            self.files_lost,
            self.drawing,
            self.monitor,
            self.heart,
        )
        self.run_id, self.errors, self.files_lost, self.drawing = "", [], [], []
        self.monitor, self.heart = None, threading.Event()  # the next run's beat() stops its own
        return self.later(self.finish, ending, status, delete)

    def finish(self, run: Ending, status: str, delete: bool) -> tuple[str, list[str]]:
        """The last writes of an ended run. One whose files the artifact store refused (gone,
        full, read-only) ends FAILED: its metrics are kept, its checkpoint or model is not."""
        for drawn in run.drawing:
            drawn.result()  # its failures are in run.errors
        if run.monitor is not None:  # its samples written, before the run ends
            run.monitor.finish()
            # And one sample now: MLflow's monitor writes nothing for a run shorter than its
            # first interval, and a short run is what one tries first.
            run.monitor.collect_metrics()
            run.monitor.publish_metrics(run.monitor.aggregate_metrics())
            run.monitor.mlflow_logger.flush()
        if run.files_lost and status == "FINISHED":
            status = "FAILED"
            error = f"the artifact store did not take this run's files ({run.files_lost[0]})"
            log_batch(run.client, run.run_id, tags={"error": error})
        run.client.set_terminated(run.run_id, status)
        run.heart.set()  # beating until now: a run that is finishing is not a dead one
        if delete:
            run.client.delete_run(run.run_id)
        self.background.submit(collect_garbage)
        return status, run.errors

    def abandon(self) -> Future:
        """The training process went away (killed) without ending its run: end it KILLED."""
        self.set_tags({"error": "the training process ended without closing its run"})
        return self.end_later("KILLED")


class InlineWriter:
    """tracking.writer=inline: the MLflow calls in the training process, each one waiting for
    the store; the same requests and answers as the side process."""

    def __init__(self) -> None:
        self.writer = RunWriter(finisher=False)
        self.replies: dict[int, tuple[bool, Any]] = {}
        self.tickets = itertools.count()

    def send(self, request: Request) -> int | None:
        reply = self.writer.handle(request)
        if not request.answered:
            return None
        ticket = next(self.tickets)
        self.replies[ticket] = reply.result() if isinstance(reply, Future) else reply  # type: ignore[assignment]
        return ticket

    def receive(self, ticket: int) -> tuple[bool, Any]:
        return self.replies.pop(ticket)


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Serve (ticket, request) pairs until the pipe closes; then end the open run KILLED and
    finish the runs that are ending."""
    writer = RunWriter()
    lock = threading.Lock()  # a run's end is answered from the finisher thread

    def answer_when_done(ticket: int, done: Future) -> None:
        answer(ticket, done.result())

    def answer(ticket: int, reply: tuple[bool, Any]) -> None:
        with lock:
            try:
                pickle.dump((ticket, reply), replies)
                replies.flush()
            except (OSError, ValueError):  # the training process is gone: its runs still end
                pass

    while True:
        try:
            ticket, request = pickle.load(requests)
        except EOFError:  # the training process closed the pipe or died
            break
        reply = writer.handle(request)
        if isinstance(reply, Future):
            reply.add_done_callback(functools.partial(answer_when_done, ticket))
        elif request.answered:
            answer(ticket, reply)  # type: ignore[arg-type]  # answered requests always reply
    writer.handle(Abandon())
    writer.drain()


def main() -> None:
    # Ctrl-C belongs to the training process, which then ends the run through this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(
        sys.stderr.fileno(), sys.stdout.fileno()
    )  # what MLflow prints must not mix with replies
    serve(sys.stdin.buffer, replies)


# The requests that store files in the run's artifact location.
FILE_REQUESTS = (LogArtifact, LogArtifacts, LogDict, LogText, LogModel, LogEstimator)


def collect_garbage() -> None:
    """A full collection after each run, then what survives it frozen out of the collector's
    sight. Cycles (a plot's figure, MLflow's objects) are freed only by a full collection, which
    this process, making few objects, seldom reaches: that kept about 6 MB per trial of a sweep
    (measured). Walking MLflow's and pandas' million objects took 0.2 s of CPU per run; frozen,
    the next collection walks only what the next run made."""
    gc.collect()
    gc.freeze()


def failure(request: Request, error: Exception, errors: list[str], files_lost: list[str]) -> str:
    """A failed request's message; an unanswered one's is kept in its run's `errors`, and in
    `files_lost` when the artifact store refused its files."""
    message = error_message(error)
    if not request.answered:
        errors.append(f"{request_name(request)}: {message}")
        store_refused = isinstance(error, OSError) and not source_missing(request)
        if isinstance(request, FILE_REQUESTS) and store_refused:  # gone, full, read-only
            files_lost.append(message)
    return message


def error_message(error: BaseException) -> str:
    """A failed write's message: ours and the store checks' say what to change as they are."""
    if isinstance(error, StoreProblem | UserError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def answer_of(ending: Future) -> Future:
    """The reply to a request answered later: (True, value), or (False, the failure)."""
    reply: Future = Future()

    def done(finished: Future) -> None:
        error = finished.exception()
        if error is None:
            reply.set_result((True, finished.result()))
        else:
            reply.set_result((False, error_message(error)))

    ending.add_done_callback(done)
    return reply


def log_model(
    uri: str,
    client: MlflowClient,
    run_id: str,
    experiment_id: str,
    request: LogModel | LogEstimator,
    linked: list[Metric],
) -> None:
    """The checkpoint (or estimator) as the run's MLflow model, linked to the `linked` metrics
    (its test metrics), registered as `register_as` when given (tunelab.tracking.registry).
    Sent again after a writer died, a model that one completed is kept, not logged twice."""
    from tunelab.tracking.registry import link_metrics, logged_since, model_version_of

    register_as = request.register_as if isinstance(request, LogModel) else None
    logged = logged_since(client, experiment_id, run_id, request.sent_ms)
    if logged is None:
        info = new_model(uri, run_id, experiment_id, request, source_tags(client, run_id))
        model_id, model_uri = info.model_id, info.model_uri
        version = info.registered_model_version
    else:
        model_id, model_uri = logged.model_id, logged.model_uri
        version = model_version_of(client, register_as, logged) if register_as else None
    link_metrics(client, run_id, model_id, linked)
    tags = {"model_uri": model_uri}
    if version:
        tags["registered_model"] = f"{register_as} version {version}"
    log_batch(client, run_id, tags=tags)


def new_model(
    uri: str,
    run_id: str,
    experiment_id: str,
    request: LogModel | LogEstimator,
    tags: dict[str, str],
) -> Any:
    """Log the request's model (MLflow's ModelInfo), with `tags`."""
    from tunelab.tracking.registry import log_checkpoint_model, log_estimator_model

    if isinstance(request, LogEstimator):
        return log_estimator_model(
            uri, run_id, experiment_id, request.estimator, request.example, tags
        )
    return log_checkpoint_model(
        uri,
        run_id,
        experiment_id,
        request.checkpoint,
        request.facts,
        request.example,
        request.register_as,
        tags,
    )


def source_tags(client: MlflowClient, run_id: str) -> dict[str, str]:
    """The run's `mlflow.source.*` tags (its script, its commit), for its model: MLflow takes
    a logged model's from the process that logs it, which showed "Logged from writer.py"."""
    tags = client.get_run(run_id).data.tags
    return {k: v for k, v in tags.items() if k.startswith("mlflow.source.")}


def draw_confusion(
    client: MlflowClient,
    run_id: str,
    counts: list[list[int]],
    classes: list[str],
    errors: list[str],
) -> None:
    """confusion_matrix.png, drawn and logged to the run; a failure kept in its `errors`."""
    import tempfile

    from tunelab.tracking.confusion import confusion_matrix_image

    try:
        with tempfile.TemporaryDirectory() as folder:
            path = confusion_matrix_image(counts, classes, Path(folder) / "confusion_matrix.png")
            client.log_artifact(run_id, str(path))
    except Exception as error:  # reported at the end like any failed write
        errors.append(f"log_confusion_matrix: {error_message(error)}")


def source_missing(request: Request) -> bool:
    """A file request whose own file (on the training side) is not there: not the store's
    fault, so the run is not failed for it."""
    path = getattr(request, "path", None) or getattr(request, "checkpoint", None)
    return path is not None and not Path(path).exists()


# A run under its model's training run, by job (its tunelab.job tag): its name's first word
# (`eval of cnn-adam-lr0.001 on digits`), and what its description says it holds.
RUN_PREFIX = {"evaluate": "eval", "predict": "predictions", "export": "export"}
HOLDS = {"evaluate": "Evaluation", "predict": "Predictions", "export": "Exported files"}


def check_not_running_elsewhere(run: Any) -> None:
    """A RUNNING run is continued only when its heartbeat says its process is gone: two
    processes must not train one run (a requeued job beside the one it replaces)."""
    tags = run.data.tags
    if run.info.status == "RUNNING" and not is_dead("RUNNING", tags):
        since = beat_age(tags) or "no heartbeat"
        raise UserError(
            f"run {run.info.run_id} is RUNNING in another process ({since}): stop that one, or "
            "let it end; a lost node's run counts as dead once its heartbeat stops"
        )


def description(kind: str, source: str | None, name: str) -> str:
    what = HOLDS[kind]
    return f"{what} of the model trained by run {name} ({source or 'not tracked here'})."


def request_name(request: Request) -> str:
    """LogArtifact -> log_artifact: how a failed write is named in the run's warnings."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(request).__name__).lower()


if __name__ == "__main__":
    main()
