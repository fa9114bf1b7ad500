"""Learning-rate schedules torch does not ship as one scheduler."""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class WarmupCosine(LambdaLR):
    """Linear warm-up, then cosine decay to eta_min, stepped per optimizer step.

    torch's SequentialLR(LinearLR, CosineAnnealingLR) does the same but needs the run length
    split by hand across two schedulers; this one takes the total once.
    """

    def __init__(
        self, optimizer: Optimizer, warmup_steps: int, total_steps: int, eta_min: float = 0.0
    ) -> None:
        self.warmup_steps, self.total_steps, self.eta_min = warmup_steps, total_steps, eta_min
        base_lrs = [group["lr"] for group in optimizer.param_groups]
        factors = [self._factor_fn(base) for base in base_lrs]
        super().__init__(optimizer, factors)

    def _factor_fn(self, base_lr: float):
        floor = self.eta_min / base_lr if base_lr else 0.0

        def factor(step: int) -> float:
            return warmup_cosine_factor(step, self.warmup_steps, self.total_steps, floor)

        return factor


def warmup_cosine_factor(step: int, warmup: int, total: int, floor: float = 0.0) -> float:
    """The multiple of the base lr at optimizer step `step` (0-based)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
