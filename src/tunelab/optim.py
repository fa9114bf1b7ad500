"""Builders for what the classifier optimises with: parameter groups, penalties, schedules."""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from tunelab.checks import HORIZON_ARGS

NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


def split_decay(
    network: nn.Module, exclude_bias_and_norm: bool
) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(parameters penalties and weight decay apply to, parameters left out of them)."""
    if not exclude_bias_and_norm:
        return [p for p in network.parameters() if p.requires_grad], []
    covered: list[nn.Parameter] = []
    left_out: list[nn.Parameter] = []
    for module in network.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            is_left_out = isinstance(module, NORM_LAYERS) or name.endswith("bias")
            (left_out if is_left_out else covered).append(param)
    return covered, left_out


def param_groups(
    network: nn.Module, exclude_bias_and_norm: bool, weight_decay: float = 0.0
) -> list[dict[str, Any]]:
    """Optimizer parameter groups; with weight decay, the left-out group gets none."""
    covered, left_out = split_decay(network, exclude_bias_and_norm and bool(weight_decay))
    if not left_out:
        return [{"params": covered}]
    return [
        {"params": covered, "name": "decay"},
        {"params": left_out, "name": "no_decay", "weight_decay": 0.0},
    ]


class Penalty:
    """l1 * sum(|w|) + l2 * sum(w^2) over a fixed list of parameters."""

    def __init__(self, params: Sequence[torch.Tensor], l1: float = 0.0, l2: float = 0.0) -> None:
        self.params, self.l1, self.l2 = params, l1, l2

    def __call__(self) -> torch.Tensor:
        total = torch.zeros((), device=self.params[0].device)
        if self.l1:
            total = total + self.l1 * sum(p.abs().sum() for p in self.params)
        if self.l2:
            total = total + self.l2 * sum(p.pow(2).sum() for p in self.params)
        return total


def build_penalty(
    network: nn.Module, penalty: dict | None, exclude_bias_and_norm: bool
) -> Penalty | None:
    if not penalty or not (penalty.get("l1") or penalty.get("l2")):
        return None
    covered, _ = split_decay(network, exclude_bias_and_norm)
    return Penalty(covered, l1=penalty.get("l1", 0.0), l2=penalty.get("l2", 0.0))


class SchedulerFactory:
    """Builds Lightning's lr_scheduler config once the optimizer and the run length are known.

    Arguments left null in conf/scheduler are filled here: the run length (T_max, total_steps)
    in the schedule's interval, max_lr from the optimizer's lr, a plateau's mode from the
    objective's.
    """

    def __init__(
        self,
        schedule: functools.partial,
        interval: str = "epoch",
        monitor: str | None = None,
        mode: str = "max",
    ) -> None:
        self.schedule, self.interval, self.monitor, self.mode = schedule, interval, monitor, mode

    def missing(self) -> list[str]:
        """The null arguments this factory fills in."""
        fillable = (*HORIZON_ARGS, "max_lr", "mode")
        return [k for k, v in self.schedule.keywords.items() if v is None and k in fillable]

    def __call__(self, optimizer: torch.optim.Optimizer, epochs: int, steps: int) -> dict[str, Any]:
        horizon = steps if self.interval == "step" else epochs
        known = {"max_lr": optimizer.param_groups[0]["lr"], "mode": self.mode}
        fill = {k: horizon if k in HORIZON_ARGS else known[k] for k in self.missing()}
        config = {
            "scheduler": self.schedule(optimizer, **fill),
            "interval": self.interval,
            "frequency": 1,
            "name": "lr",
        }
        if self.monitor:
            config["monitor"] = self.monitor
        return config


# Keys of conf/scheduler/*.yaml that are tunelab's, not the torch scheduler's.
SCHEDULER_KEYS = ("interval", "monitor")


def build_scheduler(
    cfg: dict[str, Any], objective: str, mode: str = "max"
) -> SchedulerFactory | None:
    """From a conf/scheduler config; `monitor: objective` means the run's objective metric."""
    from hydra.utils import instantiate

    if not cfg or "_target_" not in cfg:
        return None
    schedule = instantiate(
        {k: v for k, v in cfg.items() if k not in SCHEDULER_KEYS}, _convert_="all"
    )
    monitor = cfg.get("monitor")
    return SchedulerFactory(
        schedule, cfg.get("interval", "epoch"), objective if monitor == "objective" else monitor
    )


def build_optimizer(cfg: Any) -> Callable[[list[dict]], torch.optim.Optimizer]:
    """conf/optimizer's choice as a factory of parameter groups (plain lists, not ListConfig,
    so optimizer state in checkpoints loads with weights_only=True)."""
    from hydra.utils import instantiate

    return instantiate(cfg, _convert_="all")
