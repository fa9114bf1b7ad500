"""Lightning's logger interface over tunelab's TrackedRun."""

from collections.abc import Mapping
from typing import Any, Protocol

from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities import rank_zero_only


class Run(Protocol):
    """What the logger needs of the TrackedRun that hands it out (TrackedRun.lightning_logger)."""

    @property
    def run_id(self) -> str | None: ...

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None: ...


class RunLogger(Logger):
    """Hands Lightning's metrics to the run, which sends them to the MLflow writer.

    Lightning's MLFlowLogger needs MLflow imported and a client on the store in the training
    process: about 2 s of a short run's start-up on a 2-core machine, and a write that blocks
    the step. tunelab's run leaves both to a side process (tunelab.tracking.writer).
    """

    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run = run

    @property
    def name(self) -> str:
        return "mlflow"

    @property
    def version(self) -> str | None:
        return self.run.run_id

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Nothing: the run's params are the whole resolved config, logged when it starts."""

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        numbers = {k: float(v) for k, v in metrics.items() if not isinstance(v, str)}
        self.run.log_metrics(numbers, step or 0)
