"""The training process's handle on its MLflow run: created with params and tags, ended with a status.

MLflow itself works in tunelab.tracking.writer, by default in a side process started when the
run opens: the store opens there while this process imports torch and Lightning, and metric
writes never wait for the store. This module imports neither MLflow nor torch.
"""

import atexit
import contextlib
import logging
import os
import pickle
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, cast

from tunelab.errors import UserError

log = logging.getLogger(__name__)

# The requests the writer answers: (True, value) or (False, the error message).
ANSWERED = ("start", "end")


class TrackingError(UserError):
    """The MLflow store could not be opened or the run could not be created."""


class WriterProcess:
    """`python -m tunelab.tracking.writer` with pipes to it; one per process, reused by its trials."""

    def __init__(self) -> None:
        # Its own session: Ctrl-C reaches the training process alone, which then ends the run.
        detached: dict[str, Any] = (
            {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}  # Windows only
            if os.name == "nt"
            else {"start_new_session": True}
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tunelab.tracking.writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            **detached,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: tuple) -> None:
        assert self.process.stdin is not None
        pickle.dump(request, self.process.stdin)
        self.process.stdin.flush()

    def receive(self) -> tuple[bool, Any]:
        assert self.process.stdout is not None
        return pickle.load(self.process.stdout)

    def close(self) -> None:
        """No more requests: the writer finishes what it has and exits on its own (every run
        was ended, and answered, before this)."""
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(OSError):  # it died already
                self.process.stdin.close()


class InlineWriter:
    """tracking.writer=inline: the MLflow calls in this process, each one waiting for the store."""

    def __init__(self) -> None:
        from tunelab.tracking.writer import RunWriter

        self.writer = RunWriter()
        self.replies: deque[tuple[bool, Any]] = deque()

    def send(self, request: tuple) -> None:
        reply = self.writer.handle(request)
        if request[0] in ANSWERED:
            self.replies.append(reply)  # type: ignore[arg-type]  # answered requests always reply

    def receive(self) -> tuple[bool, Any]:
        return self.replies.popleft()


_process: WriterProcess | None = None


def writer_process() -> WriterProcess:
    """The side process, started on first use (or again if it died)."""
    global _process
    if _process is None or not _process.alive():
        _process = WriterProcess()
        atexit.register(_process.close)
    return _process


def open_writer(mode: str) -> WriterProcess | InlineWriter:
    """mode: process (the default) or inline."""
    return writer_process() if mode == "process" else InlineWriter()


class TrackedRun:
    """One MLflow run per training job. Requests go to the writer in order; only the run id
    (wait_started) and end wait for an answer. writer=None: a process that tracks nothing
    (a DDP rank other than 0)."""

    def __init__(
        self,
        writer: WriterProcess | InlineWriter | None,
        uri: str,
        experiment: str,
        run_name: str,
        tags: dict[str, str],
        config: dict[str, Any],
        parent_run_id: str | None = None,
        flush_seconds: float = 5.0,
    ) -> None:
        self.writer, self.uri = writer, uri
        self._started: tuple[bool, Any] | None = None
        self.lost: str | None = None  # why the writer went away, if it did
        if parent_run_id:
            tags = {**tags, "mlflow.parentRunId": parent_run_id}
        self._send("start", uri, experiment, run_name, tags, config, flush_seconds)

    def _send(self, *request: Any) -> None:
        if self.writer is None or (self._started is not None and not self._started[0]):
            return  # nothing is tracked here, or the run never started
        try:
            self.writer.send(request)
        except OSError as error:
            self._lose(error)

    def _receive(self) -> tuple[bool, Any]:
        try:
            assert self.writer is not None
            return self.writer.receive()
        except (AssertionError, EOFError, OSError) as error:
            self._lose(error)
            return False, self.lost

    def _lose(self, error: BaseException) -> None:
        """The writer process died: before the run started the job stops (wait_started),
        after that training goes on and this run's tracking is incomplete."""
        self.lost = f"the MLflow writer process stopped ({type(error).__name__})"
        if self._started is not None:
            log.warning("%s: this run's tracking is incomplete", self.lost)
        self.writer = None

    def wait_started(self) -> str | None:
        """The run id, once the writer has created the run (None when nothing is tracked here)."""
        if self._started is None:
            if self.writer is None and self.lost is None:
                return None  # a process that tracks nothing
            self._started = self._receive() if self.writer else (False, self.lost)
        ok, value = self._started
        if not ok:
            raise TrackingError(
                f"MLflow could not start the run in tracking.uri={self.uri}: {str(value).rstrip('.')}. "
                "Point tracking.uri (or MLFLOW_TRACKING_URI) at a store this machine can reach."
            )
        return value

    @property
    def run_id(self) -> str | None:
        return self.wait_started()

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._send("set_tags", {k: str(v) for k, v in tags.items()})

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        self._send("log_metrics", [(k, float(v), now, step) for k, v in metrics.items()])

    def flush(self) -> None:
        """Have the writer store the metrics it holds now (it does not wait for its interval)."""
        self._send("flush")

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        self._send("log_artifact", str(Path(path).resolve()), folder)

    def log_dict(self, data: dict[str, Any], file: str) -> None:
        self._send("log_dict", data, file)

    def end(self, status: str) -> None:
        """status: FINISHED, FAILED or KILLED. Waits until the writer has written everything."""
        try:
            self.wait_started()
        except TrackingError:
            return  # there is no run to end
        if self.writer is None:
            return
        self._send("end", status)
        ok, answer = self._receive() if self.writer else (False, self.lost)
        errors = cast(list[str], answer) if ok else [str(answer)]
        for error in errors:
            log.warning("MLflow write failed: %s", error)


def process_rank() -> int:
    """This process's rank in a distributed run (0 when not distributed). The variables
    Lightning reads (lightning.fabric.utilities.rank_zero), read here before it is imported."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0
