"""Evaluate a trained model on labelled test data, or predict with it on new inputs: a
classifier's per-class detail and confusion matrix, a regression's per-target errors.

The model is a checkpoint (ckpt_path), a run's model (run_id) or a registered model
(model_uri=models:/NAME@ALIAS). Evaluation rebuilds the data the model was trained on from its
recorded config (the same split), or takes any data= choice with the same classes.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from tunelab.errors import DataError
from tunelab.inference.checkpoint import TrainedModel


@dataclass
class Evaluation:
    metrics: dict[str, float]  # test/acc, test/f1, test/auroc or test/mae, test/rmse, test/r2
    detail: Any  # a DataFrame: per class (precision, recall, f1, support) or per target
    predictions: torch.Tensor  # class probabilities, or values in the targets' units
    targets: torch.Tensor
    confusion: torch.Tensor | None = None  # classification: [true, predicted] counts

    @property
    def detail_name(self) -> str:
        return "per_class" if self.confusion is not None else "per_target"


def test_data(model: TrainedModel, cfg_data: DictConfig | None) -> tuple[Any, str]:
    """The test split and its name: of the model's own data (its recorded config, the same
    split) when cfg_data is None, else of conf/data's choice, which must have its classes (or
    regression targets)."""
    from tunelab.data.datamodule import build_datamodule

    recorded = cfg_data is None
    tokenizer = model.preprocess.tokenizer if model.preprocess.is_text else None  # as trained
    cfg = cfg_data or OmegaConf.create(model.config["data"])
    datamodule = build_datamodule(cfg, model.task, tokenizer)
    data = datamodule.data
    if list(data.targets or data.classes) != model.output_names:
        what = "targets" if model.task == "regression" else "classes"
        raise DataError(
            f"data {data.name!r} has {what} {list(data.targets or data.classes)}; the model "
            f"predicts {model.output_names}: choose data= with the model's {what}"
        )
    if tuple(datamodule.input_shape) != model.preprocess.input_shape:
        raise DataError(
            f"data {data.name!r} has inputs of shape {tuple(datamodule.input_shape)}; "
            f"the model takes {model.preprocess.input_shape}"
        )
    return datamodule, "the model's own test split" if recorded else data.name


def evaluate(model: TrainedModel, datamodule: Any) -> Evaluation:
    """The model on the test split: the training run's test metrics, defined as `trainer.test`
    logged them, and the detail per class or per target."""
    from tunelab.training.metrics import measured

    index = datamodule.index["test"]
    x, y = datamodule.data.x[index], datamodule.data.y[index]
    predictions = model.predict(x)
    std = (model.metadata.get("target_scale") or {}).get("std")
    metrics = measured(model.task, model.output_names, std, "test", predictions, y)
    if model.task == "regression":
        return Evaluation(metrics, per_target(predictions, y, model.output_names), predictions, y)
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    confusion = multiclass_confusion_matrix(predictions, y, len(model.classes))
    detail = per_class(predictions, y, model.classes)
    return Evaluation(metrics, detail, predictions, y, confusion)


def per_class(probabilities: torch.Tensor, y: torch.Tensor, classes: list[str]) -> Any:
    """Precision, recall, F1 and support of each class."""
    import pandas as pd
    from torchmetrics.functional.classification import (
        multiclass_f1_score,
        multiclass_precision,
        multiclass_recall,
    )

    count = len(classes)
    return pd.DataFrame(
        {
            "class": classes,
            "precision": multiclass_precision(probabilities, y, count, average=None).tolist(),
            "recall": multiclass_recall(probabilities, y, count, average=None).tolist(),
            "f1": multiclass_f1_score(probabilities, y, count, average=None).tolist(),
            "support": torch.bincount(y, minlength=count).tolist(),
        }
    )


def per_target(predictions: torch.Tensor, y: torch.Tensor, targets: list[str]) -> Any:
    """MAE, RMSE and R² of each target, in its units, beside its mean and spread on the split."""
    import pandas as pd
    from torchmetrics.functional import mean_absolute_error, mean_squared_error, r2_score

    columns = range(len(targets))
    return pd.DataFrame(
        {
            "target": targets,
            "mae": [float(mean_absolute_error(predictions[:, i], y[:, i])) for i in columns],
            "rmse": [
                float(mean_squared_error(predictions[:, i], y[:, i], squared=False))
                for i in columns
            ],
            "r2": [float(r2_score(predictions[:, i], y[:, i])) for i in columns],
            "mean": y.mean(0).tolist(),
            "std": y.std(0).tolist(),
            "count": [len(y)] * len(targets),
        }
    )


def predictions_table(ids: list[str], predictions: torch.Tensor, model: TrainedModel) -> Any:
    """id, then the predicted class name and one probability column per class; or, for a
    regression, one column of predicted values per target."""
    import pandas as pd

    table = pd.DataFrame(predictions.numpy(), columns=model.output_names)
    if model.task == "classification":
        names = model.classes
        table.insert(0, "predicted", [names[i] for i in predictions.argmax(1).tolist()])
    table.insert(0, "id", ids)
    return table


def write_evaluation(result: Evaluation, model: TrainedModel, folder: Path) -> list[Path]:
    """The detail table (per_class or per_target, .csv and .md) and the plots in `folder`:
    the confusion matrix and ROC curves, or predicted against true values and residuals."""
    from tunelab.sweeps.trials import to_markdown
    from tunelab.tracking import plots
    from tunelab.tracking.confusion import confusion_matrix_image

    folder.mkdir(parents=True, exist_ok=True)
    csv, markdown = folder / f"{result.detail_name}.csv", folder / f"{result.detail_name}.md"
    result.detail.to_csv(csv, index=False)
    markdown.write_text(to_markdown(result.detail.astype(object).to_dict("records")))
    names, p, y = model.output_names, result.predictions, result.targets
    if result.confusion is not None:
        return [
            csv,
            markdown,
            confusion_matrix_image(result.confusion, names, folder / "confusion_matrix.png"),
            plots.roc_curves_plot(p, y, names, folder / "roc_curves.png"),
        ]
    return [
        csv,
        markdown,
        plots.predicted_vs_true_plot(p, y, names, folder / "predicted_vs_true.png"),
        plots.residuals_plot(p, y, names, folder / "residuals.png"),
    ]
