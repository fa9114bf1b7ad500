"""A multi-layer perceptron over the flattened input."""

import math

from torch import nn


class MLP(nn.Sequential):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        hidden_dim: int = 256,
        num_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_dim), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_dim
        layers.append(nn.Linear(width, num_outputs))
        super().__init__(*layers)
