"""Augmentation of training batches with torchvision transforms v2, composed in conf/data."""

from collections.abc import Callable

import torch


class PerSample:
    """Applies a v2 transform to each image of a batch.

    A v2 transform called on a [B, C, H, W] batch draws one set of random parameters for the
    whole batch (every image flipped, or none); augmentation needs a draw per image.
    """

    def __init__(self, transform: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.transform = transform

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.transform(image) for image in batch])
