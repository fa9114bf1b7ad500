"""The Lightning callback of a trial of the tunelab Optuna sweeper: the objective reported to
the study after every validation, and the study's pruner obeyed, by every rank under DDP.
A trial of repeats=N reports the mean of its repeats (tunelab.sweeps.curves)."""

import copy
from typing import Any

import lightning as L
import optuna

from tunelab.sweeps.curves import RepeatCurves


class Pruned(optuna.TrialPruned):
    """The pruner stopped this trial after `epoch`, where its objective was `value` (None on
    a DDP trial's other ranks, which do not see it): the job records both on the trial's run.
    `own`: the running repeat's value when `value` is the mean of several (repeats=N)."""

    def __init__(self, epoch: int, value: float | None, own: float | None = None) -> None:
        super().__init__(f"Trial was pruned at epoch {epoch}.")
        self.epoch, self.value = epoch, value
        self.own = value if own is None else own


class ReportAndPrune(L.Callback):
    """Rank 0 reports `monitor` to its trial and asks the pruner; the answer is broadcast and
    every rank raises TrialPruned at the same step, so none waits at a collective for a rank
    that stopped. optuna-integration's PyTorchLightningPruningCallback serves one process: under
    DDP it accepts only RDB storages (the sweeper's default is a journal file) and leaves each
    rank to call check_pruned() after fit, a step the training pipeline would have to carry.
    `trial` is None on the other ranks: they only obey. `curves`: the repeats of a
    repeats=N trial, whose mean is reported."""

    def __init__(
        self, trial: optuna.Trial | None, monitor: str, curves: RepeatCurves | None = None
    ) -> None:
        self.trial, self.monitor, self.curves = trial, monitor, curves

    def on_validation_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        prune, reported, own, epoch = False, None, None, trainer.current_epoch
        if self.trial is not None and trainer.is_global_zero:
            value = trainer.callback_metrics.get(self.monitor)
            if value is not None:
                own = reported = float(value)
                if self.curves is not None:  # RecordCurve, listed first, has recorded `own`
                    reported = self.curves.mean(upto=epoch)[epoch]
                prune = self.report(reported, epoch)
        if trainer.world_size > 1:
            prune = trainer.strategy.broadcast(prune)
        if prune:
            raise Pruned(epoch, reported, own)

    def report(self, value: float, epoch: int) -> bool:
        """Report `value` at `epoch`; whether the pruner stops the trial."""
        assert self.trial is not None
        if self.curves is None or not self.curves.earlier:
            self.trial.report(value, step=epoch)
            return self.trial.should_prune()
        # A later repeat: Trial.report keeps a step's first value, so the step's new mean is
        # written to the storage itself, and the pruner judges the means up to this epoch,
        # not the earlier repeats' later epochs (its `last_step` would be theirs).
        trial_id = self.trial._trial_id
        self.trial.storage.set_trial_intermediate_value(trial_id, epoch, value)
        seen = copy.copy(self.trial.storage.get_trial(trial_id))
        seen.intermediate_values = self.curves.mean(upto=epoch)
        return self.trial.study.pruner.prune(self.trial.study, seen)
