"""One LightningDataModule for every source: split, standardise, serve."""

import hashlib
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from tunelab.data.batches import EpochPermutationSampler, TensorBatches
from tunelab.data.labeled import LabeledData
from tunelab.data.splits import split_indices

# Above this size a data set is served by a DataLoader instead of index slices.
IN_MEMORY_LIMIT_BYTES = 4 * 2**30


class DataModule(L.LightningDataModule):
    def __init__(
        self,
        data: LabeledData,
        split: dict[str, Any],
        batch_size: int,
        fold: int | None = None,
        num_folds: int | None = None,
        in_memory: bool | str = "auto",
        num_workers: int = 0,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.data, self.batch_size, self.num_workers = data, batch_size, num_workers
        self.seed = split["seed"]
        self.augment = augment
        self.in_memory = (
            data.x.nbytes <= IN_MEMORY_LIMIT_BYTES if in_memory == "auto" else in_memory
        )
        fixed_test = None if data.fixed_test is None else data.fixed_test.numpy()
        index = split_indices(
            data.y.numpy(), split["val"], split["test"], self.seed, fold, num_folds, fixed_test
        )
        x = standardized(data.x, data.standardize, torch.as_tensor(index["train"]))
        self.splits = {
            name: (x[torch.as_tensor(idx)], data.y[torch.as_tensor(idx)])
            for name, idx in index.items()
        }

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.data.input_shape

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        if self.in_memory and device.type != "cpu":
            self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}

    def train_dataloader(self):
        return self._loader("train", shuffle=True, transform=self.augment)

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")

    def _loader(self, split: str, shuffle: bool = False, transform=None):
        x, y = self.splits[split]
        if self.in_memory:
            return TensorBatches(x, y, self.batch_size, shuffle, self.seed, transform)
        sampler = EpochPermutationSampler(len(y), self.seed) if shuffle else None
        return DataLoader(
            TensorDataset(x, y),
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            collate_fn=_collate(transform),
        )

    def summary(self) -> dict[str, Any]:
        """What the MLflow run records about the data."""
        sizes = {f"{k}_size": len(y) for k, (_, y) in self.splits.items()}
        return {
            "name": self.data.name,
            **sizes,
            "num_classes": self.num_classes,
            "input_shape": "x".join(map(str, self.input_shape)),
            "fingerprint": fingerprint(self.data),
            "served_by": "index slices" if self.in_memory else "DataLoader",
        }


def _collate(transform):
    def collate(items):
        x, y = torch.utils.data.default_collate(items)
        return (transform(x) if transform else x), y

    return collate


def standardized(
    x: torch.Tensor, how: str | torch.Tensor | None, train_index: torch.Tensor
) -> torch.Tensor:
    """x standardised with the mean and std of the training rows only."""
    if how is None:
        return x
    train = x[train_index]
    if isinstance(how, str):  # per channel of [N, C, H, W]
        dims = [0, *range(2, x.dim())]
        mean = train.mean(dim=dims, keepdim=True)
        std = train.std(dim=dims, keepdim=True).clamp_min(1e-8)
        return (x - mean) / std
    mean, std = train[:, how].mean(0), train[:, how].std(0).clamp_min(1e-8)
    x = x.clone()
    x[:, how] = (x[:, how] - mean) / std
    return x


def fingerprint(data: LabeledData) -> str:
    """A short hash of the examples and labels: two runs with the same value saw the same data."""
    digest = hashlib.sha256()
    digest.update(data.x.contiguous().numpy().tobytes())
    digest.update(data.y.numpy().tobytes())
    return digest.hexdigest()[:12]


def build_datamodule(cfg: Any) -> DataModule:
    """Load conf/data's source and wrap it: split, standardise, serve."""
    from hydra.utils import instantiate

    augment = instantiate(cfg.augment) if cfg.get("augment") else None
    return DataModule(
        instantiate(cfg.source),
        split=dict(cfg.split),
        batch_size=cfg.batch_size,
        fold=cfg.get("fold"),
        num_folds=cfg.get("num_folds"),
        in_memory=cfg.get("in_memory", "auto"),
        num_workers=cfg.get("num_workers", 0),
        augment=augment,
    )
