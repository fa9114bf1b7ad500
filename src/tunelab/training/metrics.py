"""Each task's metrics as torchmetrics objects (their names and arguments: tunelab.tasks), built
one way for training's train/val/test, eval.py and export.py's variants: the same definitions
give the same numbers everywhere. Imports torchmetrics, not Lightning."""

import inspect
from collections.abc import Mapping, Sequence

import torch
import torchmetrics
from torchmetrics import MetricCollection

from tunelab.tasks import METRICS


def stage_metrics(task: str, num_outputs: int, stage: str) -> MetricCollection:
    """Every metric of tunelab.tasks.METRICS for `task`, for one stage: multiclass on class
    scores, or on values in the target's units, per target where the metric keeps targets
    apart (`num_outputs`; R² averages them itself)."""
    built = {}
    for name, (cls, args) in METRICS[task].items():
        metric = getattr(torchmetrics, cls)
        if task == "classification":
            sized = {"task": "multiclass", "num_classes": num_outputs}
        else:
            takes = inspect.signature(metric.__init__).parameters
            sized = {"num_outputs": num_outputs} if "num_outputs" in takes else {}
        built[name] = metric(**sized, **args)
    return MetricCollection(built, prefix=f"{stage}/")


def summarise(
    values: Mapping[str, torch.Tensor],
    targets: Sequence[str] = (),
    std: Sequence[float] | torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """One number per metric. A metric that keeps several regression targets apart (MAE, RMSE:
    each in its target's units) is logged per target, NAME/TARGET, when `targets` names them,
    and as NAME the mean of the targets' values each divided by its training split's `std`:
    in standard deviations, so that no target's units outweigh another's. R² averages its
    targets itself (unit-free); a single target keeps its units."""
    summary = {}
    for name, value in values.items():
        if value.numel() == 1:
            summary[name] = value.reshape(())
            continue
        for target, per_target in zip(targets, value, strict=False):
            summary[f"{name}/{target}"] = per_target
        scale = torch.as_tensor(std if std is not None else 1.0, dtype=value.dtype)
        summary[name] = (value / scale.to(value.device)).mean()
    return summary


def measured(
    task: str,
    outputs: Sequence[str],
    std: Sequence[float] | None,
    stage: str,
    predictions: torch.Tensor,
    y: torch.Tensor,
) -> dict[str, float]:
    """`stage`'s metrics of `predictions` (class probabilities, or values in the targets'
    units) as plain numbers, as trainer.test logs them: a regression's targets each and their
    mean in std units (summarise)."""
    values = stage_metrics(task, len(outputs), stage)(predictions, y)
    if task == "regression":  # several targets: each one's, and their mean in std units
        values = summarise(values, outputs, std)
    return {k: float(v) for k, v in summarise(values).items()}
