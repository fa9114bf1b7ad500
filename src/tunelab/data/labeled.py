"""The record every data source returns: all examples as tensors, with their labels and names."""

from dataclasses import dataclass, field

import torch


@dataclass
class LabeledData:
    name: str
    x: torch.Tensor  # all examples, float32, [N, ...]
    y: torch.Tensor  # class indices, int64, [N]
    classes: list[str]
    # Index sets fixed by the source itself (e.g. torchvision's test file); the DataModule
    # splits the rest.
    fixed_test: torch.Tensor | None = None
    # What to standardise with statistics of the training split: "channels" for images
    # ([N, C, H, W]), a boolean mask over the columns for tables, None for nothing.
    standardize: str | torch.Tensor | None = "channels"
    # Facts worth recording with the run (label mapping, column names, folder paths).
    info: dict[str, object] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)
