"""Lightning's MLFlowLogger with metrics sent in batches instead of one request per log call."""

import time
from collections.abc import Mapping

from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only
from mlflow.entities import Metric


class BufferedMLFlowLogger(MLFlowLogger):
    """Collects metrics and writes them in one log_batch every `flush_seconds` and at the end.

    Lightning's logger writes each log call at once: with SQLite that is a transaction per
    call, which costs a quarter of a small epoch (measured on digits). MLflow's asynchronous
    mode moves the same work to a thread that still competes for the interpreter. Metrics
    keep their own timestamps and steps, so the history is the same; the UI sees new values
    at most `flush_seconds` late.
    """

    MAX_BATCH = 1000  # MLflow's limit on metrics in one log_batch

    def __init__(self, *args, flush_seconds: float = 5.0, **kwargs) -> None:
        """flush_seconds=0 writes every call at once; synchronous=False (a MLFlowLogger argument)
        hands each write to MLflow's background thread."""
        super().__init__(*args, **kwargs)
        self.flush_seconds = flush_seconds
        self.pending: list[Metric] = []
        self.last_flush = time.monotonic()

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        now = int(time.time() * 1000)
        self.pending += [
            Metric(k, float(v), now, step or 0)
            for k, v in metrics.items()
            if not isinstance(v, str)
        ]
        if (
            time.monotonic() - self.last_flush >= self.flush_seconds
            or len(self.pending) >= self.MAX_BATCH
        ):
            self.flush()

    @rank_zero_only
    def flush(self) -> None:
        for start in range(0, len(self.pending), self.MAX_BATCH):
            batch = self.pending[start : start + self.MAX_BATCH]
            self.experiment.log_batch(self.run_id, metrics=batch, **self._log_batch_kwargs)
        self.pending = []
        self.last_flush = time.monotonic()

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        # Lightning ends the run here after fit; tunelab ends it itself after the test.
        self.flush()
        if self._log_batch_kwargs.get("synchronous") is False:
            import mlflow

            mlflow.flush_async_logging()
