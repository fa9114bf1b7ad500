"""Stochastic weight averaging on Lightning's WeightAveraging: the equal-weight average of the
weights at the end of each epoch from `start_epoch` on (callbacks=swa). Validation, the saved
checkpoints (so the best one, testing, the logged model and export) and the end of training use
the average, once there is one; before it, the current weights.

Lightning's StochasticWeightAveraging also averages, but swaps the average in only when training
ends: the best checkpoint and every validation before it would hold the raw weights. Its
WeightAveraging swaps from the first validation, even before the first update (when the
"average" is the network's starting weights): the overrides below wait for that update.
For EMA, Lightning's EMAWeightAveraging serves as it is (callbacks=ema).
"""

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import WeightAveraging


class SWA(WeightAveraging):
    def __init__(self, start_epoch: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_epoch = start_epoch

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        return epoch_idx is not None and epoch_idx >= self.start_epoch

    @property
    def averaged(self) -> bool:
        """At least one epoch's weights are in the average (WeightAveraging's own counter)."""
        return self._latest_update_epoch >= 0

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.averaged:
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.averaged:
            super().on_validation_epoch_end(trainer, pl_module)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.averaged:
            super().on_save_checkpoint(trainer, pl_module, checkpoint)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.averaged:
            super().on_train_end(trainer, pl_module)
