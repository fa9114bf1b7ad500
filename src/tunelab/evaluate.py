"""Evaluate a trained model on labelled test data, or predict with it on new inputs.

The model is a checkpoint (ckpt_path), a run's model (run_id) or a registered model
(model_uri=models:/NAME@ALIAS). Evaluation rebuilds the data the model was trained on from its
recorded config (the same split), or takes any data= choice with the same classes.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from tunelab.checkpoints import TrainedClassifier
from tunelab.errors import DataError


@dataclass
class Evaluation:
    metrics: dict[str, float]  # test/acc, test/f1, test/auroc: the training run's definitions
    per_class: Any  # a DataFrame: precision, recall, f1, support per class
    confusion: torch.Tensor  # [true, predicted] counts
    probabilities: torch.Tensor
    targets: torch.Tensor


def test_data(model: TrainedClassifier, cfg_data: DictConfig | None) -> tuple[Any, str]:
    """The test split and its name: of the model's own data (its recorded config, the same
    split) when cfg_data is None, else of conf/data's choice, which must have its classes."""
    from tunelab.data.datamodule import build_datamodule

    recorded = cfg_data is None
    datamodule = build_datamodule(cfg_data or OmegaConf.create(model.config["data"]))
    if list(datamodule.data.classes) != model.classes:
        raise DataError(
            f"data {datamodule.data.name!r} has classes {list(datamodule.data.classes)}; the model "
            f"predicts {model.classes}: choose data= with the model's classes"
        )
    if tuple(datamodule.input_shape) != model.preprocess.input_shape:
        raise DataError(
            f"data {datamodule.data.name!r} has inputs of shape {tuple(datamodule.input_shape)}; "
            f"the model takes {model.preprocess.input_shape}"
        )
    return datamodule, "the model's own test split" if recorded else datamodule.data.name


def evaluate(model: TrainedClassifier, datamodule: Any) -> Evaluation:
    """The model on the test split: the training run's test metrics and per-class detail."""
    import pandas as pd
    from torchmetrics.functional.classification import (
        multiclass_confusion_matrix,
        multiclass_f1_score,
        multiclass_precision,
        multiclass_recall,
    )

    from tunelab.classifier import stage_metrics

    index = datamodule.index["test"]
    x, y = datamodule.data.x[index], datamodule.data.y[index]
    probabilities = model.predict_proba(x)
    classes = len(model.classes)
    headline = stage_metrics(classes, "test")  # what `trainer.test` logged, defined the same way
    metrics = {k: float(v) for k, v in headline(probabilities, y).items()}
    per_class = pd.DataFrame(
        {
            "class": model.classes,
            "precision": multiclass_precision(probabilities, y, classes, average=None).tolist(),
            "recall": multiclass_recall(probabilities, y, classes, average=None).tolist(),
            "f1": multiclass_f1_score(probabilities, y, classes, average=None).tolist(),
            "support": torch.bincount(y, minlength=classes).tolist(),
        }
    )
    confusion = multiclass_confusion_matrix(probabilities, y, classes)
    return Evaluation(metrics, per_class, confusion, probabilities, y)


def predictions_table(ids: list[str], probabilities: torch.Tensor, classes: list[str]) -> Any:
    """id, predicted class name, then one probability column per class."""
    import pandas as pd

    table = pd.DataFrame(probabilities.numpy(), columns=classes)
    table.insert(0, "predicted", [classes[i] for i in probabilities.argmax(1).tolist()])
    table.insert(0, "id", ids)
    return table


def write_evaluation(result: Evaluation, classes: list[str], folder: Path) -> list[Path]:
    """per_class.csv / .md, confusion_matrix.png and roc_curves.png in `folder`."""
    from tunelab.tracking.plots import confusion_matrix_plot, roc_curves_plot
    from tunelab.tracking.trials import to_markdown

    folder.mkdir(parents=True, exist_ok=True)
    csv, markdown = folder / "per_class.csv", folder / "per_class.md"
    result.per_class.to_csv(csv, index=False)
    markdown.write_text(to_markdown(result.per_class.astype(object).to_dict("records")))
    return [
        csv,
        markdown,
        confusion_matrix_plot(result.confusion, classes, folder / "confusion_matrix.png"),
        roc_curves_plot(result.probabilities, result.targets, classes, folder / "roc_curves.png"),
    ]
