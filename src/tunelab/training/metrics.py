"""Each task's metrics as torchmetrics objects (their names and arguments: tunelab.tasks), built
one way for training's train/val/test, eval.py and export.py's variants: the same definitions
give the same numbers everywhere. Imports torchmetrics, not Lightning."""

import inspect

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
