"""The requests a TrackedRun sends its MLflow writer (tunelab.tracking.writer), one small
message type each: pickled to the side process, or handed to an InlineWriter in this one.

Each names the writer method it calls in `apply`, so mypy and an editor follow a request to
the code that serves it. This module imports neither MLflow nor torch: the training process
and the sweep callback build requests without loading either.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from tunelab.tracking.writer import RunWriter


class Request:
    """A message to the writer. `answered`: the sender waits for (ok, value); `needs_run`: it
    is dropped when no run is open (the run never started)."""

    answered: ClassVar[bool] = False
    needs_run: ClassVar[bool] = True

    def apply(self, writer: "RunWriter") -> Any:
        raise NotImplementedError


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

    def apply(self, writer: "RunWriter") -> tuple[str, str]:
        return writer.start(self)


@dataclass(frozen=True)
class StartBeside(Request):
    """Create the run of an evaluation, prediction or export (`kind`: evaluate, predict, export)
    beside the run that trained its model: in that run's experiment, named KIND-its name,
    tagged tunelab.source_run. A model from another store: in `experiment`, named KIND-`name`.
    A trial of an export sweep: the child of `parent_run_id`, named `name`. Answers (run id,
    experiment id)."""

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

    def apply(self, writer: "RunWriter") -> tuple[str, str]:
        return writer.start_beside(self)


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

    def apply(self, writer: "RunWriter") -> str:
        return writer.fetch_checkpoint(self)


@dataclass(frozen=True)
class PrepareModel(Request):
    """Import what logging the model needs, while the run trains."""

    def apply(self, writer: "RunWriter") -> None:
        writer.prepare_model()


@dataclass(frozen=True)
class LogDatasets(Request):
    datasets: list[dict[str, str]]  # tunelab.tracking.run.dataset_inputs

    def apply(self, writer: "RunWriter") -> None:
        writer.log_datasets(self.datasets)


@dataclass(frozen=True)
class SetTags(Request):
    tags: dict[str, str]

    def apply(self, writer: "RunWriter") -> None:
        writer.set_tags(self.tags)


@dataclass(frozen=True)
class LogMetrics(Request):
    metrics: list[tuple[str, float, int, int]]  # (key, value, timestamp in ms, step) each

    def apply(self, writer: "RunWriter") -> None:
        writer.log_metrics(self.metrics)


@dataclass(frozen=True)
class Flush(Request):
    """Write the metrics held now, without waiting for the flush interval."""

    def apply(self, writer: "RunWriter") -> None:
        writer.flush()


@dataclass(frozen=True)
class LogArtifact(Request):
    path: str
    folder: str | None = None

    def apply(self, writer: "RunWriter") -> None:
        writer.log_artifact(self.path, self.folder)


@dataclass(frozen=True)
class LogArtifacts(Request):
    """Every file of a folder, under `folder` in the run."""

    path: str
    folder: str | None = None

    def apply(self, writer: "RunWriter") -> None:
        writer.log_artifacts(self.path, self.folder)


@dataclass(frozen=True)
class LogDict(Request):
    data: dict[str, Any]
    file: str

    def apply(self, writer: "RunWriter") -> None:
        writer.log_dict(self.data, self.file)


@dataclass(frozen=True)
class LogText(Request):
    text: str
    file: str

    def apply(self, writer: "RunWriter") -> None:
        writer.log_text(self.text, self.file)


@dataclass(frozen=True)
class LogConfusionMatrix(Request):
    counts: list[list[int]]  # [true class, predicted class]
    classes: list[str]

    def apply(self, writer: "RunWriter") -> None:
        writer.log_confusion_matrix(self.counts, self.classes)


@dataclass(frozen=True)
class LogModel(Request):
    """The checkpoint as the run's MLflow model, linked to `metric_keys`, registered as
    `register_as` when given."""

    checkpoint: str
    facts: dict[str, Any]  # the checkpoint's task, classes or targets, input shape and inputs
    example: Any
    metric_keys: list[str]
    register_as: str | None

    def apply(self, writer: "RunWriter") -> None:
        writer.log_model(self)


@dataclass(frozen=True)
class EndRun(Request):
    """End the run with `status` (and delete it); answers the failures of its writes."""

    answered: ClassVar[bool] = True
    status: str
    delete: bool = False

    def apply(self, writer: "RunWriter") -> list[str]:
        return writer.end(self.status, self.delete)


@dataclass(frozen=True)
class Abandon(Request):
    """The sender went away without ending its run: end it KILLED."""

    def apply(self, writer: "RunWriter") -> None:
        writer.abandon()
