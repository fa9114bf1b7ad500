"""Regression: the network predicts the targets standardised with the training split's mean
and standard deviation; the loss (conf/loss: MSE, MAE, Huber) is taken there, and every metric
on the predictions turned back into the target's units."""

from typing import Any

import torch
from torch import nn

from tunelab.inference.predictor import TargetScale
from tunelab.training.learner import Learner
from tunelab.training.metrics import summarise


class Regressor(Learner):
    """A Learner whose network maps a batch to [batch, targets] standardised values."""

    task = "regression"

    def __init__(
        self,
        network: nn.Module,
        target_scale: dict[str, list[float]],
        *,
        loss: nn.Module | None = None,
        objective: str = "val/rmse",
        objective_mode: str = "min",
        **learner: Any,
    ) -> None:
        """`learner`: Learner's keyword arguments (optimizer, schedule, penalty, metadata)."""
        outputs = len(target_scale["mean"])
        super().__init__(
            network, outputs, objective=objective, objective_mode=objective_mode, **learner
        )
        self.loss = loss or nn.MSELoss()
        # Not in the state dict: the checkpoint's metadata carries them (tunelab.inference.checkpoint).
        self.target_scale = TargetScale(**target_scale, persistent=False)

    def summarise(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Several targets: each one's MAE and RMSE in its units, their mean in standard
        deviations (tunelab.training.metrics.summarise)."""
        targets = self.metadata.get("targets") or []
        return summarise(values, targets, self.target_scale.std)

    def compare(
        self, outputs: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        loss = self.loss(outputs, self.target_scale.standardize(target))
        return loss, self.target_scale(outputs.detach())
