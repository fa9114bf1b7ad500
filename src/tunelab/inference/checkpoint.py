"""Checkpoints of a trained model: what tunelab writes into them, and reading one back.

Lightning's ModelCheckpoint writes the file; the Learner adds `checkpoint["tunelab"]`, the
metadata below, in plain containers. Everything needed to rebuild the network and prepare its
inputs is inside, so a checkpoint loads with torch.load(..., weights_only=True) and no
config files beside it. Reading one back imports neither Lightning nor MLflow (a served
model does it).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tunelab.cli.moved import upgrade_container
from tunelab.data.inputs import Preprocess, text_vocab_size
from tunelab.errors import UserError
from tunelab.inference.predictor import Predictor
from tunelab.models import build_network
from tunelab.tasks import output_names

if TYPE_CHECKING:
    import lightning as L

    from tunelab.data.datamodule import DataModule

NETWORK_PREFIX = "network."  # the Learner (Classifier, Regressor) holds it as self.network


def checkpoint_metadata(config: dict[str, Any], datamodule: "DataModule") -> dict[str, Any]:
    """What every checkpoint of this run carries: the run's resolved config, the data's
    summary, the task, class names (or a regression's target names and their training-split
    mean and std), input shape, how raw inputs were prepared (tunelab.data.inputs), the
    standardisation statistics and source facts. train() adds the MLflow run id once known."""
    return {
        "config": config,
        "data": datamodule.summary,
        "task": datamodule.data.task,
        "classes": list(datamodule.data.classes),
        "targets": list(datamodule.data.targets),
        "target_scale": datamodule.target_scale,
        "input_shape": list(datamodule.input_shape),
        "inputs": datamodule.data.inputs,
        "normalize": datamodule.normalization(),
        "data_info": datamodule.data.info,
        "run_id": None,
    }


def input_example(datamodule: "DataModule", metadata: dict[str, Any], count: int = 5) -> Any:
    """A few test examples as raw inputs, as a served model takes them (its input example)."""
    rows = datamodule.index["test"][:count].cpu()
    data = datamodule.data
    if data.texts is not None:  # the texts themselves: ids do not decode to them
        import pandas as pd

        return pd.DataFrame({metadata["inputs"]["column"]: [data.texts[i] for i in rows.tolist()]})
    return Preprocess.from_metadata(metadata).decode(data.x[rows])


def best_checkpoint(trainer: "L.Trainer") -> str | None:
    """The path of the best checkpoint saved in fit, if any."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    callback = trainer.checkpoint_callback
    return callback.best_model_path or None if isinstance(callback, ModelCheckpoint) else None


@dataclass
class TrainedModel:
    """A model read back from its checkpoint: its predictor (standardise -> network in eval
    mode -> softmax or a regression's un-standardisation), how raw inputs reach it, and its
    metadata."""

    predictor: Predictor
    preprocess: Preprocess  # raw inputs to the network's input, as in training
    config: dict[str, Any]  # the training run's resolved config
    metadata: dict[str, Any]  # everything checkpoint_metadata wrote

    @property
    def network(self) -> nn.Module:
        return self.predictor.network

    @network.setter
    def network(self, network: nn.Module) -> None:
        self.predictor.network = network

    @property
    def task(self) -> str:
        return self.metadata.get("task", "classification")  # older checkpoints: classifiers

    @property
    def classes(self) -> list[str]:
        return list(self.metadata["classes"])

    @property
    def output_names(self) -> list[str]:
        """The prediction's columns: one per class (probabilities) or per target (values)."""
        return output_names(self.metadata)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions of examples as the data source returns them (pixels in [0, 1], a table
        one-hot encoded), standardised as in training: class probabilities [N, classes], or
        values in the targets' units [N, targets]."""
        return self.outputs(self.preprocess.standardize(x))

    def predict_raw(self, raw: Any) -> torch.Tensor:
        """Predictions of raw inputs: images in the source's pixel scale, or a DataFrame with
        the training table's columns (tunelab.data.inputs.Preprocess)."""
        return self.outputs(self.preprocess(raw))

    @torch.no_grad()
    def outputs(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Predictions of inputs ready for the network, in batches (memory stays flat)."""
        return torch.cat([self.predictor.head(b) for b in x.split(batch_size)])


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> TrainedModel:
    """Rebuild the network of a tunelab checkpoint and load its weights (weights_only=True)."""
    if not Path(path).is_file():
        raise UserError(f"checkpoint {path} does not exist")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if "tunelab" not in checkpoint:
        raise UserError(f"{path} is not a tunelab checkpoint: it holds no checkpoint['tunelab']")
    metadata = checkpoint["tunelab"]
    config = upgrade_container(metadata["config"])  # written before a module moved
    network = build_network(
        config["model"],
        tuple(metadata["input_shape"]),
        len(output_names(metadata)),
        dropout=config["regularization"]["dropout"],
        vocab_size=text_vocab_size(metadata.get("inputs")),
    )
    weights = {
        key.removeprefix(NETWORK_PREFIX): value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(NETWORK_PREFIX)
    }
    network.load_state_dict(weights)
    network.eval()
    preprocess = Preprocess.from_metadata(metadata)
    return TrainedModel(Predictor.from_metadata(network, metadata), preprocess, config, metadata)


def save_model(
    network: nn.Module, model: TrainedModel, cfg_model: dict[str, Any], path: Path
) -> Path:
    """A network derived from `model` (pruned, with its model config `cfg_model`) as a tunelab
    checkpoint that load_model reads back: the same metadata, the new architecture."""
    config = {**model.config, "model": cfg_model}
    metadata = {**model.metadata, "config": config}
    state = {NETWORK_PREFIX + k: v.detach().clone() for k, v in network.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "tunelab": metadata}, path)
    return path
