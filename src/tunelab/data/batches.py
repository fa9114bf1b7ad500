"""Serving in-memory tensors as batches: shuffled index slices, no DataLoader workers."""

import math
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Sampler


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of epoch `epoch`: the same for both paths and every process."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=generator)


class TensorBatches:
    """Batches of (x, y) sliced from tensors that already sit on the training device.

    torch's DataLoader collates one example at a time; for data that fits in memory that
    per-example work costs more than the model's step, so batches are gathered with one index.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.transform = transform
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.y)
        if self.shuffle:
            order = epoch_order(n, self.seed, self.epoch).to(self.x.device)
            self.epoch += 1
        for start in range(0, n, self.batch_size):
            if self.shuffle:
                index = order[start : start + self.batch_size]
                x, y = self.x[index], self.y[index]
            else:
                x, y = (
                    self.x[start : start + self.batch_size],
                    self.y[start : start + self.batch_size],
                )
            yield (self.transform(x) if self.transform else x), y


class EpochPermutationSampler(Sampler[int]):
    """The DataLoader twin of TensorBatches' shuffling: the same order for the same seed."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        order = epoch_order(self.n, self.seed, self.epoch)
        self.epoch += 1
        return iter(order.tolist())
