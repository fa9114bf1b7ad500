"""One LightningDataModule for every source: split, standardise, augment, serve."""

import functools
import hashlib
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from tunelab.data.batches import EpochPermutationSampler, TensorBatches
from tunelab.data.labeled import LabeledData
from tunelab.data.splits import split_indices
from tunelab.inputs import Normalize

# Above this size a data set is served by a DataLoader instead of index slices.
IN_MEMORY_LIMIT_BYTES = 4 * 2**30


class Chain:
    """Transforms applied in order (a class, not a lambda, so DataLoader workers can pickle it)."""

    def __init__(self, *transforms: Callable | None) -> None:
        self.transforms = [t for t in transforms if t is not None]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for transform in self.transforms:
            x = transform(x)
        return x


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
        self.in_memory = (
            data.x.nbytes <= IN_MEMORY_LIMIT_BYTES if in_memory == "auto" else bool(in_memory)
        )
        fixed = {k: v.numpy() for k, v in data.fixed_splits.items()}
        index = split_indices(
            data.y.numpy(), split["val"], split["test"], self.seed, fold, num_folds, fixed
        )
        self.index = {k: torch.as_tensor(v) for k, v in index.items()}
        self.splits = {name: (data.x[idx], data.y[idx]) for name, idx in self.index.items()}
        self.normalize = standardizer(self.splits["train"][0], data.standardize)
        per_image = isinstance(data.standardize, str)  # "channels"; tables give a column mask
        if self.normalize and not per_image:  # table columns: once, here
            for name, (x, y) in self.splits.items():
                self.splits[name] = (self.normalize(x), y)
        # Images are normalised per batch, after augmentation, which works on [0, 1] pixels.
        per_batch = self.normalize if per_image else None
        self.transforms = {
            "train": Chain(augment, per_batch),
            "val": Chain(per_batch),
            "test": Chain(per_batch),
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
        overfitting = self.trainer is not None and getattr(self.trainer, "overfit_batches", 0) > 0
        return self.loader("train", shuffle=not overfitting)  # overfit: the same batches each epoch

    def val_dataloader(self):
        return self.loader("val")

    def test_dataloader(self):
        return self.loader("test")

    def loader(self, split: str, shuffle: bool = False):
        x, y = self.splits[split]
        transform = self.transforms[split]
        if self.in_memory:
            rank, world_size = (
                (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
            )
            return TensorBatches(
                x, y, self.batch_size, shuffle, self.seed, transform, rank, world_size
            )
        return DataLoader(
            TensorDataset(x, y),
            batch_size=self.batch_size,
            sampler=EpochPermutationSampler(len(y), self.seed) if shuffle else None,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            collate_fn=BatchTransform(transform),
        )

    def normalization(self) -> dict[str, list] | None:
        """The statistics every raw input is standardised with, (x - mean) / std: per channel
        for images, per column for tables (for inference on new inputs)."""
        if self.normalize is None:
            return None
        return {
            "mean": self.normalize.mean.cpu().tolist(),
            "std": self.normalize.std.cpu().tolist(),
        }

    @functools.cached_property
    def summary(self) -> dict[str, Any]:
        """What the MLflow run and every checkpoint record about the data (hashed once)."""
        sizes = {f"{k}_size": len(y) for k, (_, y) in self.splits.items()}
        return {
            "name": self.data.name,
            **sizes,
            "num_classes": self.num_classes,
            "input_shape": "x".join(map(str, self.input_shape)),
            "fingerprint": fingerprint(self.data),
            "served_by": "index slices" if self.in_memory else "DataLoader",
        }


class BatchTransform:
    """Collate, then transform the whole batch (picklable for DataLoader workers)."""

    def __init__(self, transform: Callable | None) -> None:
        self.transform = transform

    def __call__(self, items):
        x, y = torch.utils.data.default_collate(items)
        return (self.transform(x) if self.transform else x), y


def standardizer(train_x: torch.Tensor, standardize: str | torch.Tensor | None) -> Normalize | None:
    """(x - mean) / std with statistics of the training split only: per channel for images
    ("channels"); for tables, per column of the mask (the other columns get mean 0, std 1)."""
    if standardize is None:
        return None
    if isinstance(standardize, str):
        dims = [0, *range(2, train_x.dim())]
        mean = train_x.mean(dim=dims, keepdim=True)[0]
        return Normalize(mean, train_x.std(dim=dims, keepdim=True)[0].clamp_min(1e-6))
    mean = torch.where(standardize, train_x.mean(0), 0.0)
    return Normalize(mean, torch.where(standardize, train_x.std(0).clamp_min(1e-8), 1.0))


def fingerprint(data: LabeledData) -> str:
    """A short hash of the examples and labels: two runs with the same value saw the same data."""
    digest = hashlib.sha256()
    digest.update(data.x.contiguous().numpy().tobytes())
    digest.update(data.y.numpy().tobytes())
    return digest.hexdigest()[:12]


def build_datamodule(cfg: Any) -> DataModule:
    """Load conf/data's source and wrap it: split, standardise, augment, serve."""
    from tunelab.data.augment import PerSample
    from tunelab.errors import instantiate

    augment = PerSample(instantiate(cfg.augment, _convert_="all")) if cfg.get("augment") else None
    return DataModule(
        instantiate(cfg.source, _convert_="all"),
        split=dict(cfg.split),
        batch_size=cfg.batch_size,
        fold=cfg.get("fold"),
        num_folds=cfg.get("num_folds"),
        in_memory=cfg.get("in_memory", "auto"),
        num_workers=cfg.get("num_workers", 0),
        augment=augment,
    )
