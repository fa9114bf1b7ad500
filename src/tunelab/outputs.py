"""What a trained network's outputs become for whoever uses the model: class probabilities
(softmax of the logits) or, for regression, values in the target's units (the standardised
prediction times the training split's standard deviation, plus its mean). Checkpoints read
back (tunelab.checkpoints) and exported files (tunelab.ship.formats) end with this layer."""

from typing import Any

import torch
from torch import nn


class Unstandardize(nn.Module):
    """y * std + mean, per target."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.std + self.mean


def output_layer(recipe: dict[str, Any]) -> nn.Module:
    """The last step of a checkpoint's model (its recipe: tunelab.checkpoints)."""
    if recipe.get("task", "classification") == "regression":
        return Unstandardize(**recipe["target_scale"])
    return nn.Softmax(dim=-1)
