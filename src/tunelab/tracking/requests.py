"""The requests a TrackedRun sends its MLflow writer (tunelab.tracking.writer), one small
message type each: pickled to the side process, or handed to an InlineWriter in this one.

Plain data: RunWriter.handle matches each type to the method that serves it, so mypy and an
editor follow a request to its code. This module imports neither MLflow nor torch: the training
process and the sweep callback build requests without loading either.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar


class Request:
    """A message to the writer. `answered`: the sender waits for (ok, value); `needs_run`: it
    is dropped when no run is open (the run never started)."""

    answered: ClassVar[bool] = False
    needs_run: ClassVar[bool] = True

    def apply(self, store: Callable[[str], Any]) -> Any:
        """A request declared outside tracking (the sweep's parent run, tunelab.sweeps.requests)
        does its own work with `store(uri)`, the writer's MlflowClient of that store. The
        requests of this module are matched to their methods in RunWriter.serve instead."""
        raise TypeError(f"no writer method serves {type(self).__name__}")


@dataclass(frozen=True)
class StartRun(Request):
    """Create the run with its params and tags, or reopen `resume_run_id`; answers (run id,
    experiment id)."""

    answered: ClassVar[bool] = True
    needs_run: ClassVar[bool] = False
    uri: str
    experiment: str
    name: str
    tags: dict[str, str]
    params: dict[str, str]
    flush_seconds: float = 5.0
    resume_run_id: str | None = None
    system_metrics_seconds: float = 0.0
    heartbeat_seconds: float = 0.0


@dataclass(frozen=True)
class StartBeside(Request):
    """Create the run of an evaluation, prediction or export (`kind`: evaluate, predict, export)
    under the run that trained its model: its child, named `eval of` its name, tagged
    tunelab.source_run. A model from another store: in `experiment`, named `eval of NAME`.
    A trial of a sweep: the child of `parent_run_id`, named `name`. The run starts at
    `started_ms` (the job's start: its duration is the job's). Answers (run id, experiment id)."""

    answered: ClassVar[bool] = True
    needs_run: ClassVar[bool] = False
    uri: str
    kind: str
    source_run_id: str | None
    experiment: str
    name: str
    tags: dict[str, str]
    params: dict[str, str]
    parent_run_id: str | None = None
    flush_seconds: float = 5.0
    heartbeat_seconds: float = 0.0
    started_ms: int | None = None


@dataclass(frozen=True)
class Reattach(Request):
    """Continue writing to a run that another writer process opened and died in (RUNNING, its
    status and tags untouched); answers (run id, experiment id). The training process then
    replays the run's requests: each one's write is idempotent (tunelab.tracking.run)."""

    answered: ClassVar[bool] = True
    needs_run: ClassVar[bool] = False
    uri: str
    run_id: str
    flush_seconds: float = 5.0
    system_metrics_seconds: float = 0.0
    heartbeat_seconds: float = 0.0


@dataclass(frozen=True)
class FetchCheckpoint(Request):
    """The local file of the checkpoint a user named: ckpt_path itself, or a run's model (its
    best checkpoint when it logged none) or a model URI's, downloaded into `folder`."""

    answered: ClassVar[bool] = True
    needs_run: ClassVar[bool] = False
    uri: str
    ckpt_path: str | None
    run_id: str | None
    model_uri: str | None
    folder: str


@dataclass(frozen=True)
class PrepareModel(Request):
    """Import what logging the model needs, while the run trains (estimators: a baseline's
    scikit-learn model, which MLflow saves with skops)."""

    estimators: bool = False


@dataclass(frozen=True)
class LogDatasets(Request):
    datasets: list[dict[str, str]]  # tunelab.tracking.run.dataset_inputs


@dataclass(frozen=True)
class SetTags(Request):
    tags: dict[str, str]


@dataclass(frozen=True)
class LogMetrics(Request):
    metrics: list[tuple[str, float, int, int]]  # (key, value, timestamp in ms, step) each


@dataclass(frozen=True)
class Flush(Request):
    """Write the metrics held now, without waiting for the flush interval."""


@dataclass(frozen=True)
class LogArtifact(Request):
    path: str
    folder: str | None = None


@dataclass(frozen=True)
class LogArtifacts(Request):
    """Every file of a folder, under `folder` in the run."""

    path: str
    folder: str | None = None


@dataclass(frozen=True)
class LogDict(Request):
    data: dict[str, Any]
    file: str


@dataclass(frozen=True)
class LogText(Request):
    text: str
    file: str


@dataclass(frozen=True)
class LogConfusionMatrix(Request):
    counts: list[list[int]]  # [true class, predicted class]
    classes: list[str]


@dataclass(frozen=True)
class LogModel(Request):
    """The checkpoint as the run's MLflow model, linked to `metric_keys`, registered as
    `register_as` when given."""

    checkpoint: str
    facts: dict[str, Any]  # the checkpoint's task, classes or targets, input shape and inputs
    example: Any
    metric_keys: list[str]
    register_as: str | None
    sent_ms: int = 0  # when the training process asked: a replay skips a model logged since


@dataclass(frozen=True)
class LogEstimator(Request):
    """A fitted scikit-learn estimator (pickled to the writer with the request) as the run's
    MLflow model (scikit-learn flavour; its signature from `example`, encoded rows), linked to
    `metric_keys`. Never registered: the registry holds networks."""

    estimator: Any
    example: Any
    metric_keys: list[str]
    sent_ms: int = 0  # as LogModel's


@dataclass(frozen=True)
class EndRun(Request):
    """End the run with `status` (and delete it); answers (the status it ended with, the
    failures of its writes): FAILED when the artifact store refused the run's files."""

    answered: ClassVar[bool] = True
    status: str
    delete: bool = False


@dataclass(frozen=True)
class Abandon(Request):
    """The sender went away without ending its run: end it KILLED."""
