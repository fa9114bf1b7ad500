"""Checkpoints of a trained classifier: what tunelab writes into them, and reading one back.

Lightning's ModelCheckpoint writes the file; the Classifier adds `checkpoint["tunelab"]`, the
recipe below, in plain containers. Everything needed to rebuild the network and prepare its
inputs is inside, so a checkpoint loads with torch.load(..., weights_only=True) and no
config files beside it. Reading one back imports neither Lightning nor MLflow (a served
model does it).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tunelab.errors import UserError
from tunelab.inputs import Preprocess
from tunelab.models import build_network

if TYPE_CHECKING:
    import lightning as L

    from tunelab.data.datamodule import DataModule

NETWORK_PREFIX = "network."  # the Classifier holds the network as self.network


def checkpoint_recipe(config: dict[str, Any], datamodule: "DataModule") -> dict[str, Any]:
    """What every checkpoint of this run carries: the run's resolved config, the data's
    summary, class names, input shape, how raw inputs were prepared (tunelab.inputs), the
    standardisation statistics and source facts. train() adds the MLflow run id once known."""
    return {
        "config": config,
        "data": datamodule.summary,
        "classes": list(datamodule.data.classes),
        "input_shape": list(datamodule.input_shape),
        "inputs": datamodule.data.inputs,
        "normalize": datamodule.normalization(),
        "data_info": datamodule.data.info,
        "run_id": None,
    }


def input_example(datamodule: "DataModule", recipe: dict[str, Any], count: int = 5) -> Any:
    """A few test examples as raw inputs, as a served model takes them (its input example)."""
    x = datamodule.data.x[datamodule.index["test"][:count]]
    return Preprocess.from_recipe(recipe).decode(x)


def best_checkpoint(trainer: "L.Trainer") -> str | None:
    """The path of the best checkpoint saved in fit, if any."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    callback = trainer.checkpoint_callback
    return callback.best_model_path or None if isinstance(callback, ModelCheckpoint) else None


def resume_checkpoint(resume: str | None, callbacks: Any) -> str | None:
    """resume=RUN_ID: the run's last.ckpt, written at the end of its last full epoch. Lightning
    resumes exactly from there (a mid-epoch interrupted.ckpt would replay a partial epoch with
    other batches). None: train from the start (no resume, or killed within its first epoch)."""
    saver = (callbacks or {}).get("model_checkpoint")
    if not resume or not saver:
        return None
    last = Path(saver.dirpath) / "last.ckpt"
    return str(last) if last.exists() else None


@dataclass
class TrainedClassifier:
    """A classifier read back from its checkpoint: the network in eval mode and its recipe."""

    network: nn.Module
    classes: list[str]
    preprocess: Preprocess  # raw inputs to the network's input, as in training
    config: dict[str, Any]  # the training run's resolved config
    recipe: dict[str, Any]  # everything checkpoint_recipe wrote

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities [N, classes] of examples as the data source returns them
        (pixels in [0, 1], a table one-hot encoded), standardised as in training."""
        return self.probabilities(self.preprocess.standardize(x))

    def predict_raw(self, raw: Any) -> torch.Tensor:
        """Class probabilities of raw inputs: images in the source's pixel scale, or a
        DataFrame with the training table's columns (tunelab.inputs.Preprocess)."""
        return self.probabilities(self.preprocess(raw))

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Softmax of the network on inputs ready for it, in batches (memory stays flat)."""
        return torch.cat([self.network(b).softmax(dim=-1) for b in x.split(batch_size)])


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
    preprocess = Preprocess.from_recipe(recipe)
    return TrainedClassifier(network, list(recipe["classes"]), preprocess, config, recipe)


def save_classifier(
    network: nn.Module, model: TrainedClassifier, cfg_model: dict[str, Any], path: Path
) -> Path:
    """A network derived from `model` (pruned, with its model config `cfg_model`) as a tunelab
    checkpoint that load_classifier reads back: the same recipe, the new architecture."""
    config = {**model.config, "model": cfg_model}
    recipe = {**model.recipe, "config": config}
    state = {NETWORK_PREFIX + k: v.detach().clone() for k, v in network.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "tunelab": recipe}, path)
    return path
