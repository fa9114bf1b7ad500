"""Serving in-memory tensors as batches: shuffled index slices, no DataLoader workers."""

import math
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Sampler


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of epoch `epoch`: the same for both paths and every process."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=generator)


def shard(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This process's share of `order` in a distributed run, dealt as torch's DistributedSampler
    deals it: padded by wrapping around to a multiple of world_size, then every world_size-th
    index from `rank`, so that every process takes the same number of steps."""
    if world_size == 1:
        return order
    total = math.ceil(len(order) / world_size) * world_size
    padded = order.repeat(math.ceil(total / len(order)))[:total]
    return padded[rank::world_size]


class TensorBatches:
    """Batches of (x, y) gathered from tensors that already sit on the training device.

    torch's DataLoader collates one example at a time; for data that fits in memory that
    per-example work costs more than the model's step, so batches are gathered with one index.
    `rows` picks a split out of the whole data set's tensors (None: all of them), so no split
    is ever copied.
    In a distributed run each process serves its own shard (Lightning shards DataLoaders
    through their sampler; these batches are not a DataLoader, so they shard themselves).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        rank: int = 0,
        world_size: int = 1,
        rows: torch.Tensor | None = None,
    ) -> None:
        self.x, self.y, self.rows = x, y, rows
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.transform = transform
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(math.ceil(self.size / self.world_size) / self.batch_size)

    @property
    def size(self) -> int:
        """The number of examples served (every process's together)."""
        return len(self.y) if self.rows is None else len(self.rows)

    # Lightning sets the epoch of a loader's `sampler` at each epoch's start (and reads its
    # `batch_sampler`): this loader is its own sampler, so a resumed fit shuffles its epochs
    # as an uninterrupted one did.
    batch_sampler = None

    @property
    def sampler(self) -> "TensorBatches":
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> torch.Tensor | None:
        """The rows this process serves this epoch; None: all of x, in order."""
        if self.shuffle:
            self.epoch += 1
            order = epoch_order(self.size, self.seed, self.epoch - 1).to(self.x.device)
            order = order if self.rows is None else self.rows[order]
        elif self.world_size > 1:
            order = (
                torch.arange(self.size, device=self.x.device) if self.rows is None else self.rows
            )
        else:
            return self.rows  # in order: plain slices when there is no split to pick
        return shard(order, self.rank, self.world_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order()
        for start in range(0, len(self.y) if order is None else len(order), self.batch_size):
            if order is None:
                x, y = (
                    self.x[start : start + self.batch_size],
                    self.y[start : start + self.batch_size],
                )
            else:
                index = order[start : start + self.batch_size]
                x, y = self.x[index], self.y[index]
            yield (self.transform(x) if self.transform else x), y


class EpochPermutationSampler(Sampler[int]):
    """The DataLoader twin of TensorBatches' shuffling: the same order for the same seed."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at each epoch's start (a resumed fit starts at its epoch)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        order = epoch_order(self.n, self.seed, self.epoch)
        self.epoch += 1
        return iter(order.tolist())
