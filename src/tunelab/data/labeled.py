"""The record every data source returns: all examples as tensors, with their labels and names."""

from dataclasses import dataclass, field

import torch

from tunelab.errors import DataError


@dataclass
class LabeledData:
    name: str
    # all examples: images float32 in [0, 1] [N, C, H, W], tables [N, F], or a text's token ids
    # int64 [N, max_length] (filled by the DataModule from `texts` once its tokenizer is fitted)
    x: torch.Tensor
    y: torch.Tensor  # class indices, int64, [N]; regression: float32 [N, targets]
    classes: list[str]  # regression: none
    # Index sets fixed by the source (torchvision's test file, the user's train/ val/ test/
    # folders); the DataModule splits what is not fixed.
    fixed_splits: dict[str, torch.Tensor] = field(default_factory=dict)
    # What to standardise with statistics of the training split: "channels" for images, a
    # boolean mask over the columns for tables, None for nothing.
    standardize: str | torch.Tensor | None = "channels"
    # Facts worth recording with the run (label mapping, columns, folders).
    info: dict[str, object] = field(default_factory=dict)
    # How raw inputs became x, for inference on new ones (tunelab.data.inputs): {"scale": 255.0} for
    # images read as bytes; a table's "features", "categorical" and encoded "columns".
    raw: dict[str, object] = field(default_factory=dict)
    # Regression: the names of the target columns (y's columns); classification: none.
    targets: list[str] = field(default_factory=list)
    # Text sources: the raw texts, one per example.
    texts: list[str] | None = None

    def __post_init__(self) -> None:
        if self.targets:
            return
        present = torch.unique(self.y)
        if len(present) < 2:
            found = self.classes[int(present[0])] if len(present) else "none"
            raise DataError(
                f"data set {self.name!r} has a single class ({found}): a classifier needs at least two"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def task(self) -> str:
        return "regression" if self.targets else "classification"

    @property
    def num_outputs(self) -> int:
        """The network's outputs: one score per class, or one value per target."""
        return len(self.targets) or len(self.classes)

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    @property
    def is_text(self) -> bool:
        return self.texts is not None

    @property
    def inputs(self) -> dict[str, object]:
        """The raw-input record every checkpoint carries (defaults filled in)."""
        from tunelab.data.inputs import inputs_record

        return inputs_record(self.raw, self.input_shape)


def unit_floats(*parts: torch.Tensor) -> torch.Tensor:
    """Byte images as one float32 tensor in [0, 1], converted into a single allocation
    (torch.cat of .float() / 255 parts held three float copies at once)."""
    x = torch.empty((sum(len(p) for p in parts), *parts[0].shape[1:]), dtype=torch.float32)
    start = 0
    for part in parts:
        x[start : start + len(part)] = part
        start += len(part)
    return x.div_(255.0)
