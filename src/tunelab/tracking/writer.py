"""MLflow's side of a run: applies the requests of a TrackedRun to an MlflowClient.

Run as `python -m tunelab.tracking.writer` it is a side process: it reads pickled requests on
stdin and answers the two that need an answer (start, end) on its stdout. Importing MLflow and
opening the store (about 2 s here) then overlap the training process's import of torch and
Lightning, and no MLflow write ever holds up a training step. With tracking.writer=inline the
training process calls RunWriter itself.
"""

import gc
import importlib
import os
import pickle
import signal
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

from mlflow import MlflowClient
from mlflow.entities import Metric

from tunelab.tracking.reachable import StoreProblem
from tunelab.tracking.store import MAX_RUN_NAME, clip, experiment_id, log_batch, open_store

# Tags that say how a run ended (tunelab.job.end_run): a resumed run drops them.
ENDING_TAGS = {"error", "pruned", "pruned.reason"}

# The requests a caller waits on: answered (True, value) or (False, the error message).
ANSWERED = ("start", "end", "call")


class RunWriter:
    """One run at a time; metrics are buffered and written in one batch every flush_seconds.

    A write per log call is a SQLite transaction each: a quarter of a small epoch when it ran
    in the training process (measured on digits). Metrics keep their own timestamps and steps,
    so the history is the same; the UI sees new values at most flush_seconds late.
    """

    client: MlflowClient  # the store of the current run, set by start

    def __init__(self) -> None:
        # A process reused by several trials opens each store once.
        self.clients: dict[str, MlflowClient] = {}
        self.run_id = ""  # "" while no run is open
        self.uri = ""
        self.pending: list[Metric] = []
        self.latest: dict[str, Metric] = {}  # each key's last value, to link to a logged model
        self.errors: list[str] = []
        self.flush_seconds = 5.0
        self.last_flush = time.monotonic()
        self.monitor: Any = None  # MLflow's SystemMetricsMonitor of the current run
        # Imports and plots beside the other writes, always on this one thread (matplotlib
        # caches its fonts per thread: a thread per plot would load them again each trial).
        # matplotlib's import (about 0.4 s) runs while the run trains.
        self.background = ThreadPoolExecutor(1, thread_name_prefix="writer-background")
        self.drawing: list[Future] = []
        self.background.submit(importlib.import_module, "tunelab.tracking.plots")

    def handle(self, request: tuple) -> tuple[bool, Any] | None:
        """Apply one request; (ok, value) answers start and end, failures of others are kept for end."""
        kind, *args = request
        if kind not in ("start", "call") and not self.run_id:  # the run never started
            self.pending = []
            return (True, []) if kind in ANSWERED else None
        try:
            value = getattr(self, kind)(*args)
        except Exception as error:  # the training goes on; the failure is reported at end
            message = (
                str(error)
                if isinstance(error, StoreProblem)
                else f"{type(error).__name__}: {error}"
            )
            if kind in ANSWERED:
                return False, message
            self.errors.append(f"{kind}: {message}")
            return None
        return (True, value) if kind in ANSWERED else None

    def start(
        self,
        uri: str,
        experiment: str,
        name: str,
        tags: dict[str, str],
        params: dict[str, str],
        flush_seconds: float,
        resume_run_id: str | None = None,
        system_metrics_seconds: float = 0.0,
    ) -> tuple[str, str]:
        """Create the run with its params and tags, or reopen `resume_run_id` (RUNNING again,
        tags updated; its params stay as first logged: MLflow refuses a changed value)."""
        self.run_id, self.errors, self.pending, self.latest = "", [], [], {}
        self.uri = uri
        self.client = self.store(uri)
        self.flush_seconds, self.last_flush = flush_seconds, time.monotonic()
        if resume_run_id:
            self.client.update_run(resume_run_id, status="RUNNING")
            self.run_id = resume_run_id
            old = self.client.get_run(resume_run_id)
            for key in ENDING_TAGS & old.data.tags.keys():  # how it ended before no longer holds
                self.client.delete_tag(resume_run_id, key)
            log_batch(self.client, self.run_id, tags=tags)
            experiment_ = old.info.experiment_id
        else:
            experiment_ = experiment_id(self.client, experiment, uri)
            run = self.client.create_run(experiment_, run_name=clip(name, MAX_RUN_NAME))
            self.run_id = run.info.run_id
            log_batch(self.client, self.run_id, params=params, tags=tags)
        self.experiment_id = experiment_
        self.watch_system(system_metrics_seconds, resumed=bool(resume_run_id))
        return self.run_id, experiment_

    def call(self, function: str, uri: str, *args: Any) -> Any:
        """`module:function`(client of `uri`, *args): MLflow work for a process that keeps
        MLflow out of its own memory (a sweep's parent run: tracking.sweep_run). It leaves
        the current run, if any, as it is."""
        module, name = function.split(":")
        return getattr(importlib.import_module(module), name)(self.store(uri), *args)

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

    def log_dict(self, data: dict[str, Any], file: str) -> None:
        self.client.log_dict(self.run_id, data, file)

    def log_text(self, text: str, file: str) -> None:
        self.client.log_text(self.run_id, text, file)

    def log_confusion_matrix(self, counts: list[list[int]], classes: list[str]) -> None:
        """Drawn and logged on the drawing thread, while the model is logged; end waits for it."""
        self.drawing.append(
            self.background.submit(self._draw_confusion, self.run_id, counts, classes)
        )

    def _draw_confusion(self, run_id: str, counts: list[list[int]], classes: list[str]) -> None:
        import tempfile
        from pathlib import Path

        import numpy as np

        from tunelab.tracking.plots import confusion_matrix_plot

        try:
            with tempfile.TemporaryDirectory() as folder:
                path = confusion_matrix_plot(
                    np.array(counts), classes, Path(folder) / "confusion_matrix.png"
                )
                self.client.log_artifact(run_id, str(path))
        except Exception as error:  # reported at the end like any failed write
            self.errors.append(f"log_confusion_matrix: {type(error).__name__}: {error}")

    def prepare_model(self) -> None:
        """Import what log_model needs, on the background thread, while the training runs."""
        from tunelab.tracking.models import prepare_model_logging

        self.background.submit(prepare_model_logging)

    def log_model(
        self,
        checkpoint: str,
        facts: dict[str, Any],
        example: Any,
        metric_keys: list[str],
        register_as: str | None,
    ) -> None:
        """The checkpoint as the run's MLflow model, linked to the metrics named (its test
        metrics), registered as `register_as` when given (tunelab.tracking.models)."""
        from tunelab.tracking.models import link_metrics, log_classifier_model

        self.flush()
        info = log_classifier_model(
            self.uri, self.run_id, self.experiment_id, checkpoint, facts, example, register_as
        )
        linked = [self.latest[k] for k in metric_keys if k in self.latest]
        link_metrics(self.client, self.run_id, info.model_id, linked)
        tags = {"model_uri": info.model_uri}
        if info.registered_model_version:
            tags["registered_model"] = f"{register_as} version {info.registered_model_version}"
        log_batch(self.client, self.run_id, tags=tags)

    def end(self, status: str, delete: bool = False) -> list[str]:
        """Write what is pending, end the run with `status` (and delete it: a job that never
        started training); the failures of this run's writes."""
        self.flush()
        for drawn in self.drawing:
            drawn.result()  # its failures are in self.errors
        self.drawing = []
        if self.monitor is not None:  # its samples written, before the run ends
            self.monitor.finish()
            # And one sample now: MLflow's monitor writes nothing for a run shorter than its
            # first interval, and a short run is what one tries first.
            self.monitor.collect_metrics()
            self.monitor.publish_metrics(self.monitor.aggregate_metrics())
            self.monitor.mlflow_logger.flush()
            self.monitor = None
        self.client.set_terminated(self.run_id, status)
        if delete:
            self.client.delete_run(self.run_id)
        errors, self.errors, self.run_id = self.errors, [], ""
        # A matplotlib figure is a web of reference cycles, freed only by a full collection,
        # which this process, making few objects, seldom reaches: that kept about 6 MB per
        # trial of a sweep (measured). Collected after the answer (0.2 s), while the next
        # trial starts.
        self.background.submit(gc.collect)
        return errors

    def abandon(self) -> None:
        """The training process went away (killed) without ending its run: end it KILLED."""
        self.set_tags({"error": "the training process ended without closing its run"})
        self.end("KILLED")


class InlineWriter:
    """tracking.writer=inline: the MLflow calls in the training process, each one waiting for
    the store; the same requests and answers as the side process."""

    def __init__(self) -> None:
        self.writer = RunWriter()
        self.replies: deque[tuple[bool, Any]] = deque()

    def send(self, request: tuple) -> None:
        reply = self.writer.handle(request)
        if request[0] in ANSWERED:
            self.replies.append(reply)  # type: ignore[arg-type]  # answered requests always reply

    def receive(self) -> tuple[bool, Any]:
        return self.replies.popleft()


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    writer = RunWriter()
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:  # the training process closed the pipe or died
            break
        reply = writer.handle(request)
        if request[0] in ANSWERED:
            pickle.dump(reply, replies)
            replies.flush()
    writer.handle(("abandon",))


def main() -> None:
    # Ctrl-C belongs to the training process, which then ends the run through this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(
        sys.stderr.fileno(), sys.stdout.fileno()
    )  # what MLflow prints must not mix with replies
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
