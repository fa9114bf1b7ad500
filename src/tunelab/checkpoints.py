"""Checkpoints of a trained classifier: what tunelab writes into them, and reading one back.

Lightning's ModelCheckpoint writes the file; the Classifier adds `checkpoint["tunelab"]`, the
recipe below, in plain containers. Everything needed to rebuild the network and prepare its
inputs is inside, so a checkpoint loads with torch.load(..., weights_only=True) and no
config files beside it.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from tunelab.data.datamodule import DataModule, Normalize
from tunelab.errors import UserError
from tunelab.models import build_network

NETWORK_PREFIX = "network."  # the Classifier holds the network as self.network


def checkpoint_recipe(config: dict[str, Any], datamodule: DataModule) -> dict[str, Any]:
    """What every checkpoint of this run carries: the run's resolved config, the data's
    summary, class names, input shape, standardisation statistics and source facts."""
    return {
        "config": config,
        "data": datamodule.summary,
        "classes": list(datamodule.data.classes),
        "input_shape": list(datamodule.input_shape),
        "normalize": datamodule.normalization(),
        "data_info": datamodule.data.info,
    }


def best_checkpoint(trainer: L.Trainer) -> str | None:
    """The path of the best checkpoint saved in fit, if any."""
    callback = trainer.checkpoint_callback
    return callback.best_model_path or None if isinstance(callback, ModelCheckpoint) else None


@dataclass
class TrainedClassifier:
    """A classifier read back from its checkpoint: the network in eval mode and its recipe."""

    network: nn.Module
    classes: list[str]
    normalize: Normalize | None  # applied to raw inputs, as the data source returns them
    config: dict[str, Any]  # the training run's resolved config
    recipe: dict[str, Any]  # everything checkpoint_recipe wrote

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities [N, classes] of raw inputs (pixels in [0, 1], table features
        after one-hot encoding), standardised with the training split's statistics."""
        if self.normalize is not None:
            x = self.normalize(x)
        return self.network(x).softmax(dim=-1)


def load_classifier(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> TrainedClassifier:
    """Rebuild the network of a tunelab checkpoint and load its weights (weights_only=True)."""
    if not Path(path).is_file():
        raise UserError(f"checkpoint {path} does not exist")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if "tunelab" not in checkpoint:
        raise UserError(f"{path} is not a tunelab checkpoint: it holds no checkpoint['tunelab']")
    recipe = checkpoint["tunelab"]
    config = recipe["config"]
    network = build_network(
        config["model"],
        tuple(recipe["input_shape"]),
        len(recipe["classes"]),
        dropout=config["regularization"]["dropout"],
    )
    weights = {
        key.removeprefix(NETWORK_PREFIX): value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(NETWORK_PREFIX)
    }
    network.load_state_dict(weights)
    network.eval()
    stats = recipe["normalize"]
    normalize = (
        Normalize(torch.tensor(stats["mean"]), torch.tensor(stats["std"])) if stats else None
    )
    return TrainedClassifier(network, list(recipe["classes"]), normalize, config, recipe)
