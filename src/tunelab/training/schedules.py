"""Learning-rate schedules: conf/scheduler's Schedule, and the schedules torch does not ship.

torch is imported where a schedule is built, not here: tunelab.jobs.checks reads HORIZON_ARGS
before any heavy import.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LambdaLR, LRScheduler

# Scheduler arguments that mean "the length of the whole run"; left null in conf/scheduler,
# they are filled in once the trainer knows how many epochs or optimizer steps it will run.
HORIZON_ARGS = ("T_max", "total_steps", "total_iters")


class Schedule:
    """A torch learning-rate scheduler with its arguments, and when Lightning steps it.

    conf/scheduler/*.yaml is one call of this class: `scheduler` names the torch class (or a
    function such as warmup_cosine), `interval` is `epoch` or `step`, `monitor` the metric a
    plateau schedule watches, and every other key is the scheduler's own argument. The torch
    scheduler needs the optimizer, so it is built in configure_optimizers.
    """

    def __init__(
        self,
        scheduler: str,
        interval: str = "epoch",
        monitor: str | None = None,
        **arguments: Any,
    ) -> None:
        self.make = scheduler_called(scheduler, arguments)  # a mistake shows now, not in fit
        self.interval, self.monitor, self.arguments = interval, monitor, arguments

    def lightning_config(self, optimizer: Optimizer, epochs: int, steps: int) -> dict[str, Any]:
        """Lightning's lr_scheduler config; null run-length arguments become the run's length
        in the schedule's interval (epochs, or optimizer steps)."""
        horizon = steps if self.interval == "step" else epochs
        arguments = {
            k: horizon if v is None and k in HORIZON_ARGS else v for k, v in self.arguments.items()
        }
        scheduler: LRScheduler = self.make(optimizer, **arguments)
        config = {"scheduler": scheduler, "interval": self.interval, "frequency": 1, "name": "lr"}
        if self.monitor:
            config["monitor"] = self.monitor
        return config


def scheduler_called(path: str, arguments: dict[str, Any]) -> Callable[..., LRScheduler]:
    """The class or function `path` names, checked to take `arguments` after the optimizer.

    Looked up with importlib rather than hydra.utils.get_object, which logs its own error line
    before raising: a mistyped name should end the run with the one line below."""
    from tunelab.errors import ConfigError

    module, _, name = path.rpartition(".")
    try:
        make = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(
            f"scheduler.scheduler={path}: no such class or function; name one such as "
            "torch.optim.lr_scheduler.StepLR"
        ) from None
    try:
        inspect.signature(make).bind(None, **arguments)  # None stands for the optimizer
    except TypeError as error:
        takes = ", ".join(list(inspect.signature(make).parameters)[1:])
        raise ConfigError(f"scheduler: {name} {error}; its arguments: {takes}") from None
    return make


def warmup_cosine(
    optimizer: Optimizer, warmup_steps: int, total_steps: int, eta_min: float = 0.0
) -> LambdaLR:
    """Linear warm-up, then cosine decay to eta_min, stepped per optimizer step.

    torch's SequentialLR(LinearLR, CosineAnnealingLR) does the same but needs the run length
    split by hand across two schedulers; this one takes the total once.
    """
    from torch.optim.lr_scheduler import LambdaLR

    def factor_for(base_lr: float):
        floor = eta_min / base_lr if base_lr else 0.0
        return lambda step: warmup_cosine_factor(step, warmup_steps, total_steps, floor)

    return LambdaLR(optimizer, [factor_for(group["lr"]) for group in optimizer.param_groups])


def warmup_cosine_factor(step: int, warmup: int, total: int, floor: float = 0.0) -> float:
    """The multiple of the base lr at optimizer step `step` (0-based)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_schedule(cfg: Any) -> Schedule:
    """conf/scheduler's choice, with plain lists: scheduler state in checkpoints then loads
    with weights_only=True."""
    from tunelab.errors import instantiate

    return instantiate(cfg, _convert_="all")
