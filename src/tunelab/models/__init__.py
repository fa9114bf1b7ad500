"""Networks: plain nn.Modules sized by (input_shape, num_outputs: classes or regression targets), each with a dropout knob."""

from typing import Any

from torch import nn


def build_network(
    cfg: Any, input_shape: tuple[int, ...], num_outputs: int, dropout: float
) -> nn.Module:
    """Instantiate conf/model's choice, sized from the data."""
    from tunelab.errors import instantiate

    return instantiate(
        cfg, input_shape=tuple(input_shape), num_outputs=num_outputs, dropout=dropout
    )
