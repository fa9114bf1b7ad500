"""The sweep callback's requests to the MLflow writer (tunelab.tracking.writer): open and
finish the sweep's parent run (tunelab.sweeps.parent). The callback's process keeps MLflow
out of its memory; the writer, which has it loaded, does the work and answers."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from tunelab.tracking.requests import Request


@dataclass(frozen=True)
class OpenParent(Request):
    """Answers tunelab.sweeps.parent.open_parent's summary of what it did."""

    answered: ClassVar[bool] = True
    needs_run: ClassVar[bool] = False
    uri: str
    experiment: str
    name: str
    tags: dict[str, str]
    sweep_dir: str
    grid: bool

    def apply(self, store: Callable[[str], Any]) -> dict[str, Any]:
        from tunelab.sweeps.parent import open_parent

        return open_parent(
            store(self.uri),
            self.uri,
            self.experiment,
            self.name,
            self.tags,
            self.sweep_dir,
            self.grid,
        )


@dataclass(frozen=True)
class FinishParent(Request):
    """Answers tunelab.sweeps.parent.finish_parent's (summary, registration tags)."""

    answered: ClassVar[bool] = True
    needs_run: ClassVar[bool] = False
    uri: str
    experiment_id: str
    run_id: str
    status: str
    objective: dict[str, Any]  # metric, mode; more: [[metric, mode]]; constraints: [str]
    summary_dir: str
    search: dict[str, str]
    register: dict[str, str] | None
    stopped_by: str | None = None
    promote: dict[str, str] | None = None  # conf: the config folder, to: where the file goes

    def apply(self, store: Callable[[str], Any]) -> tuple[dict[str, object], dict[str, str]]:
        from tunelab.sweeps.parent import finish_parent

        return finish_parent(
            store(self.uri),
            self.experiment_id,
            self.run_id,
            self.status,
            self.objective,
            self.summary_dir,
            self.search,
            self.register,
            self.stopped_by,
            self.promote,
        )


@dataclass(frozen=True)
class FinishedRuns(Request):
    """Answers tunelab.sweeps.warm_start.finished_runs: what a search starts from. curves=False:
    without the pruned trials' curves (a query per run), when only checking the source."""

    answered: ClassVar[bool] = True
    needs_run: ClassVar[bool] = False
    uri: str
    source: str | list[str]
    curves: bool = True

    def apply(self, store: Callable[[str], Any]) -> list[dict[str, Any]]:
        from tunelab.sweeps.warm_start import finished_runs

        return finished_runs(store(self.uri), self.source, self.curves)
