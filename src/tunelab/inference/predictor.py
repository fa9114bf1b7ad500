"""A trained network as its users call it: standardise -> network -> output layer.

The output layer turns the network's outputs into predictions: class probabilities (softmax of
the logits) or, for regression, values in the target's units (the standardised prediction
times the training split's standard deviation, plus its mean: TargetScale, which the Regressor
also trains with). Checkpoints read back (tunelab.inference.checkpoint), the MLflow pyfunc and
every exported file (tunelab.export.formats) compute this one module.
"""

from typing import Any

import torch
from torch import nn


class TargetScale(nn.Module):
    """A regression's targets: forward un-standardises (y * std + mean, per target),
    standardize the reverse. persistent=False keeps the statistics out of the state dict (the
    Regressor's checkpoint metadata carries them)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: list[float], std: list[float], persistent: bool = True) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32), persistent)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32), persistent)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.std + self.mean

    def standardize(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.mean) / self.std


def output_layer(metadata: dict[str, Any]) -> nn.Module:
    """The last step of a checkpoint's model (its metadata: tunelab.inference.checkpoint)."""
    if metadata.get("task", "classification") == "regression":
        return TargetScale(**metadata["target_scale"])
    return nn.Softmax(dim=-1)


class Predictor(nn.Module):
    """standardise -> network -> output layer: examples as the data source returns them
    (pixels in [0, 1], a table one-hot encoded, a text's token ids) in, predictions out."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        network: nn.Module,
        normalize: dict[str, list] | None,
        output: nn.Module,
        output_name: str = "probabilities",
    ) -> None:
        super().__init__()
        self.network, self.output, self.output_name = network, output, output_name
        # Nothing to standardise (token ids): x goes to the network as it is, in its dtype.
        self.standardizes = normalize is not None
        stats = normalize or {"mean": [0.0], "std": [1.0]}
        self.register_buffer("mean", torch.tensor(stats["mean"], dtype=torch.float32))
        self.register_buffer("std", torch.tensor(stats["std"], dtype=torch.float32))

    @classmethod
    def from_metadata(cls, network: nn.Module, metadata: dict[str, Any]) -> "Predictor":
        """`network` (a checkpoint's, or one derived from it) with the checkpoint's
        standardisation and output layer, in eval mode."""
        regression = metadata.get("task") == "regression"
        name = "predictions" if regression else "probabilities"  # an exported file's output
        return cls(network, metadata["normalize"], output_layer(metadata), name).eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head((x - self.mean) / self.std if self.standardizes else x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions of inputs already standardised (as the training batches are)."""
        return self.output(self.network(x))
