"""The Lightning callback of a trial of the tunelab Optuna sweeper: the objective reported to
the study after every validation, and the study's pruner obeyed, by every rank under DDP."""

from typing import Any

import lightning as L
import optuna


class Pruned(optuna.TrialPruned):
    """The pruner stopped this trial after `epoch`, where its objective was `value` (None on
    a DDP trial's other ranks, which do not see it): the job records both on the trial's run."""

    def __init__(self, epoch: int, value: float | None) -> None:
        super().__init__(f"Trial was pruned at epoch {epoch}.")
        self.epoch, self.value = epoch, value


class ReportAndPrune(L.Callback):
    """Rank 0 reports `monitor` to its trial and asks the pruner; the answer is broadcast and
    every rank raises TrialPruned at the same step, so none waits at a collective for a rank
    that stopped. optuna-integration's PyTorchLightningPruningCallback serves one process: under
    DDP it accepts only RDB storages (the sweeper's default is a journal file) and leaves each
    rank to call check_pruned() after fit, a step the training pipeline would have to carry.
    `trial` is None on the other ranks: they only obey."""

    def __init__(self, trial: optuna.Trial | None, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor

    def on_validation_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        prune, reported = False, None
        if self.trial is not None and trainer.is_global_zero:
            value = trainer.callback_metrics.get(self.monitor)
            if value is not None:
                reported = float(value)
                self.trial.report(reported, step=trainer.current_epoch)
                prune = self.trial.should_prune()
        if trainer.world_size > 1:
            prune = trainer.strategy.broadcast(prune)
        if prune:
            raise Pruned(trainer.current_epoch, reported)
