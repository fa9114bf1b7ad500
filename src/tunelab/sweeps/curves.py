"""The objective's per-epoch values across the repeats of one configuration (repeats=N, each
with its own seed or fold): what a sweep's pruner judges and what the configuration's run
shows, their mean at each epoch over the repeats that reached it."""

import statistics
from typing import Any

import lightning as L


class RepeatCurves:
    """One curve ({epoch: value}) per repeat, the current one last."""

    def __init__(self) -> None:
        self.curves: list[dict[int, float]] = []

    def start_repeat(self) -> None:
        self.curves.append({})

    def record(self, epoch: int, value: float) -> None:
        self.curves[-1][epoch] = value

    @property
    def earlier(self) -> int:
        """How many repeats ran before the current one."""
        return max(0, len(self.curves) - 1)

    def mean(self, upto: int | None = None) -> dict[int, float]:
        """{epoch: the mean over the repeats that reached it}, for epochs up to `upto` (all
        when None): an early-stopped repeat counts until it stopped."""
        epochs = sorted({e for curve in self.curves for e in curve})
        return {
            epoch: statistics.fmean(c[epoch] for c in self.curves if epoch in c)
            for epoch in epochs
            if upto is None or epoch <= upto
        }


class RecordCurve(L.Callback):
    """Each validation's `monitor` into the current repeat's curve (listed before a trial's
    ReportAndPrune, which reports the mean)."""

    def __init__(self, curves: RepeatCurves, monitor: str) -> None:
        self.curves, self.monitor = curves, monitor

    def on_validation_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if not trainer.sanity_checking and value is not None:
            self.curves.record(trainer.current_epoch, float(value))
