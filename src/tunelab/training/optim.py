"""What a learner optimises with: the optimizer over parameter groups, and the penalty."""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from tunelab.errors import instantiate

NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)

OptimizerFactory = Callable[[nn.Module], torch.optim.Optimizer]


def build_optimizer(cfg: Any, exclude_bias_and_norm: bool) -> OptimizerFactory:
    """conf/optimizer's choice as a function of the network. With weight decay and
    exclude_bias_and_norm (regularization.exclude_bias_and_norm), biases and normalisation
    parameters get none. Plain lists, not ListConfig, so optimizer state in checkpoints loads
    with weights_only=True."""
    optimizer = instantiate(cfg, _convert_="all")  # functools.partial(torch.optim.X, lr=...)
    return functools.partial(_optimizer_over, optimizer, exclude_bias_and_norm)


def _optimizer_over(
    optimizer: functools.partial, exclude_bias_and_norm: bool, network: nn.Module
) -> torch.optim.Optimizer:
    decay = optimizer.keywords.get("weight_decay") or 0.0
    return optimizer(param_groups(network, exclude_bias_and_norm, decay))


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
    """Optimizer parameter groups; with weight decay, the left-out group gets none. Without
    decay there is one group: L-BFGS takes no more."""
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
    """regularization.penalty ({l1, l2} or null) over the network's weights."""
    if not penalty or not (penalty.get("l1") or penalty.get("l2")):
        return None
    covered, _ = split_decay(network, exclude_bias_and_norm)
    return Penalty(covered, l1=penalty.get("l1", 0.0), l2=penalty.get("l2", 0.0))
