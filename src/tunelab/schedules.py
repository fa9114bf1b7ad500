"""Learning-rate schedules: conf/scheduler's Schedule, and the schedules torch does not ship.

torch is imported where a schedule is built, not here: tunelab.checks reads HORIZON_ARGS
before any heavy import.
"""

from __future__ import annotations

import math
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
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor
        self.arguments = arguments

    def lightning_config(self, optimizer: Optimizer, epochs: int, steps: int) -> dict[str, Any]:
        """Lightning's lr_scheduler config; null run-length arguments become the run's length
        in the schedule's interval (epochs, or optimizer steps)."""
        from hydra.utils import get_object

        horizon = steps if self.interval == "step" else epochs
        arguments = {
            k: horizon if v is None and k in HORIZON_ARGS else v for k, v in self.arguments.items()
        }
        scheduler: LRScheduler = get_object(self.scheduler)(optimizer, **arguments)
        config = {"scheduler": scheduler, "interval": self.interval, "frequency": 1, "name": "lr"}
        if self.monitor:
            config["monitor"] = self.monitor
        return config


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
