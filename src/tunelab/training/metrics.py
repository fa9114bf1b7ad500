"""Each task's metrics as torchmetrics objects (their names and arguments: tunelab.tasks), built
one way for training's train/val/test, eval.py and export.py's variants: the same definitions
give the same numbers everywhere. Imports torchmetrics, not Lightning."""

import importlib
import inspect
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torchmetrics
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAUROC
from torchmetrics.utilities.data import dim_zero_cat

from tunelab.tasks import METRICS


def stage_metrics(task: str, num_outputs: int, stage: str) -> MetricCollection:
    """Every metric of tunelab.tasks.METRICS for `task`, for one stage: multiclass on class
    scores, or on values in the target's units, per target where the metric keeps targets
    apart (`num_outputs`; R² averages them itself)."""
    built = {}
    for name, (cls, args) in METRICS[task].items():
        metric = metric_class(cls)
        takes = inspect.signature(metric).parameters
        if task == "classification":  # torchmetrics' Accuracy, ... choose a class by `task`
            sized = {
                "num_classes": num_outputs,
                **({"task": "multiclass"} if "task" in takes else {}),
            }
        else:
            sized = {"num_outputs": num_outputs} if "num_outputs" in takes else {}
        built[name] = metric(**sized, **args)
    return MetricCollection(built, prefix=f"{stage}/")


def metric_class(name: str) -> type:
    """A metric class of tunelab.tasks: torchmetrics' by its name, or by its dotted path."""
    if "." not in name:
        return getattr(torchmetrics, name)
    module, _, cls = name.rpartition(".")
    return getattr(importlib.import_module(module), cls)


class RankAUROC(MulticlassAUROC):
    """torchmetrics' exact multiclass AUROC, each class's area taken from ranks.

    torchmetrics draws each class's whole ROC curve to take its area (an argsort of all the
    scores, cumulative sums, a trapezoid per step): 73-80 ms an epoch on 54,000 training images
    of 10 classes, the largest single cost tunelab adds to a step of the 60,000-image MLP
    (`python -m benchmarks.loop --mnist`). The area is also the chance that a positive example
    scores above a negative one, a tie counting half (Mann-Whitney's U): a sort of the
    negatives' scores and of the positives', and a binary search for each positive, give it:
    19 ms there, equal to torchmetrics' within 1e-7. Where that reading differs from torchmetrics' definition (binned
    thresholds, ignore_index, a class without positive or without negative examples), and off
    the CPU, where torchmetrics' sorts are quick, torchmetrics computes it."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """torchmetrics' update, the logits turned into probabilities here first.

        torchmetrics softmaxes over each row of 10 scores: 0.74 ms for 4,096 x 10 on one
        thread, most of what a step's metrics cost. Over the transposed scores torch runs
        along the 4,096 at once: 0.08 ms, equal within 3e-8. torchmetrics then finds
        probabilities, as for scores that were probabilities already, and keeps them."""
        on_cpu = preds.ndim == 2 and preds.device.type == "cpu"
        if on_cpu and not torch.all((preds >= 0) & (preds <= 1)):  # torchmetrics' logits test
            preds = preds.T.softmax(dim=0).T
        super().update(preds, target)

    # As torchmetrics' own MulticlassAUROC.compute: an area, over its parent's curve.
    def compute(self) -> torch.Tensor:  # type: ignore[override]
        if self.thresholds is not None or self.ignore_index is not None:
            return super().compute()
        preds, target = dim_zero_cat(self.preds), dim_zero_cat(self.target)
        counts = torch.bincount(target, minlength=self.num_classes)
        if preds.device.type != "cpu" or not ((counts > 0) & (counts < len(target))).all():
            return super().compute()
        areas = torch.from_numpy(rank_areas(preds, target.numpy())).float()
        if self.average in (None, "none"):
            return areas
        if self.average == "weighted":
            return (areas * counts / counts.sum()).sum()
        return areas.mean()


def rank_areas(scores: torch.Tensor, target: np.ndarray) -> np.ndarray:
    """Each class's one-vs-rest ROC area: P(a positive's score > a negative's) + P(equal) / 2."""
    columns = np.ascontiguousarray(scores.detach().float().numpy().T)  # one class per row
    areas = np.empty(len(columns))
    for label, column in enumerate(columns):
        positive = target == label
        # Both sorted: numpy's binary search starts each key where the last one ended, which
        # halves its time, and sorting the few positives costs less than that (measured).
        negatives, positives = np.sort(column[~positive]), np.sort(column[positive])
        above = np.searchsorted(negatives, positives, "left")  # negatives below each
        tied = np.searchsorted(negatives, positives, "right") - above
        u = above.sum(dtype=np.float64) + tied.sum(dtype=np.float64) / 2
        areas[label] = u / (len(positives) * len(negatives))
    return areas


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
