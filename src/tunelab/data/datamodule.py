"""One LightningDataModule for every source: split, standardise, augment, serve."""

import functools
import hashlib
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

from tunelab.cli.runtime import trim_heap
from tunelab.data.batches import EpochPermutationSampler, TensorBatches
from tunelab.data.inputs import Normalize
from tunelab.data.labeled import LabeledData
from tunelab.data.splits import split_indices
from tunelab.data.tokenizers import Tokenizer
from tunelab.errors import DataError

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
        tokenizer: Tokenizer | None = None,
    ) -> None:
        """tokenizer: a text source's, fitted here on the training split unless it comes
        fitted (a trained model's, for evaluation on new data)."""
        super().__init__()
        self.data, self.batch_size, self.num_workers = data, batch_size, num_workers
        self.seed = split["seed"]
        fixed = {k: v.numpy() for k, v in data.fixed_splits.items()}
        index = split_indices(
            data.y.numpy(),
            split["val"],
            split["test"],
            self.seed,
            fold,
            num_folds,
            fixed,
            stratify=data.task == "classification",
        )
        self.index = {k: torch.as_tensor(v) for k, v in index.items()}
        if data.is_text:
            encode_texts(data, tokenizer, self.index["train"])
        elif tokenizer is not None:
            raise DataError(
                f"data {data.name!r} is not text: a tokenizer is for text data; drop tokenizer="
            )
        self.in_memory = (
            data.x.nbytes <= IN_MEMORY_LIMIT_BYTES if in_memory == "auto" else bool(in_memory)
        )
        self.target_scale = target_scale(data, self.index["train"])
        # One copy of the examples: each split is its index set into data.x, gathered batch by
        # batch (a shuffled epoch gathers anyway), never a copy of its own.
        self.augment, self.y = augment, data.y
        self.standardize_with(standardizer(data.x, self.index["train"], data.standardize))

    def standardize_with(self, normalize: Normalize | None) -> None:
        """Serve the examples standardised with `normalize`: the training split's statistics,
        or those that weights trained elsewhere expect (init_from)."""
        self.normalize = normalize
        per_image = isinstance(self.data.standardize, str)  # "channels"; tables: a column mask
        # Table columns are standardised once, here (a second, small copy: evaluation and
        # checkpoints read the raw columns); images per batch, after augmentation, which works
        # on [0, 1] pixels.
        self.x = normalize(self.data.x) if normalize and not per_image else self.data.x
        per_batch = normalize if per_image else None
        self.transforms = {
            "train": Chain(self.augment, per_batch),
            "val": Chain(per_batch),
            "test": Chain(per_batch),
        }

    def use_statistics(self, stats: dict[str, list] | None) -> bool:
        """Standardise with recorded statistics (a checkpoint's `normalize`) when they fit
        these examples (as many channels or columns); False, and nothing changed, otherwise."""
        current = self.normalization()
        if stats is None or current is None or len(stats["mean"]) != len(current["mean"]):
            return False
        shape = self.normalize.mean.shape if self.normalize is not None else ()
        mean, std = (torch.tensor(stats[k]).reshape(shape) for k in ("mean", "std"))
        self.standardize_with(Normalize(mean, std))
        return True

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.data.input_shape

    @property
    def num_outputs(self) -> int:
        return self.data.num_outputs

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        if self.in_memory and device.type != "cpu":
            self.x, self.y = self.x.to(device), self.y.to(device)
            self.index = {k: rows.to(device) for k, rows in self.index.items()}

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """A copy of one split's (x, y) as served before the per-batch transforms."""
        rows = self.index[name]
        return self.x[rows], self.y[rows]

    def train_dataloader(self):
        overfitting = self.trainer is not None and getattr(self.trainer, "overfit_batches", 0) > 0
        return self.loader("train", shuffle=not overfitting)  # overfit: the same batches each epoch

    def val_dataloader(self):
        return self.loader("val")

    def test_dataloader(self):
        return self.loader("test")

    def loader(self, split: str, shuffle: bool = False):
        rows, transform = self.index[split], self.transforms[split]
        if self.in_memory:
            rank, world_size = (
                (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
            )
            return TensorBatches(
                self.x,
                self.y,
                self.batch_size,
                shuffle,
                self.seed,
                transform,
                rank,
                world_size,
                rows,
            )
        return DataLoader(
            Subset(TensorDataset(self.x, self.y), rows.tolist()),
            batch_size=self.batch_size,
            sampler=EpochPermutationSampler(len(rows), self.seed) if shuffle else None,
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
        sizes = {f"{k}_size": len(rows) for k, rows in self.index.items()}
        outputs = (
            {"targets": ", ".join(self.data.targets)}
            if self.data.targets
            else {"num_classes": self.num_outputs}
        )
        return {
            "name": self.data.name,
            **sizes,
            **outputs,
            "input_shape": "x".join(map(str, self.input_shape)),
            **text_summary(self.data.inputs.get("tokenizer")),
            "fingerprint": fingerprint(self.data),
            "served_by": "index slices" if self.in_memory else "DataLoader",
        }


def text_summary(tokenizer: Any) -> dict[str, Any]:
    """A text data set's tokenizer and vocabulary size, for the run's tags; {} for the others."""
    if tokenizer is None:
        return {}
    return {"tokenizer": tokenizer["kind"], "vocab_size": len(tokenizer["vocabulary"])}


class BatchTransform:
    """Collate, then transform the whole batch (picklable for DataLoader workers)."""

    def __init__(self, transform: Callable | None) -> None:
        self.transform = transform

    def __call__(self, items):
        x, y = torch.utils.data.default_collate(items)
        return (self.transform(x) if self.transform else x), y


def standardizer(
    x: torch.Tensor, rows: torch.Tensor, standardize: str | torch.Tensor | None
) -> Normalize | None:
    """(x - mean) / std with statistics of the training rows only: per channel for images
    ("channels"); for tables, per column of the mask (the other columns get mean 0, std 1)."""
    if standardize is None:
        return None
    if isinstance(standardize, str):  # "channels"
        mean, std = moments(x, rows, [0, *range(2, x.dim())])
        return Normalize(mean, std.clamp_min(1e-6))
    mean, std = moments(x, rows, [0])
    return Normalize(
        torch.where(standardize, mean, 0.0), torch.where(standardize, std.clamp_min(1e-8), 1.0)
    )


def encode_texts(data: LabeledData, tokenizer: Tokenizer | None, rows: torch.Tensor) -> None:
    """A text source's x: its texts as token ids, the tokenizer fitted on the training rows
    only (unless it comes fitted); the fitted state joins the inputs record for inference."""
    assert data.texts is not None
    if tokenizer is None:
        raise DataError(
            f"data {data.name!r} is text: choose a tokenizer (tokenizer=words, chars or subword)"
        )
    if not tokenizer.fitted:
        texts = data.texts
        tokenizer.fit(texts[i] for i in rows.tolist())
    data.x = tokenizer.encode(data.texts)
    data.raw["tokenizer"] = tokenizer.state()


def target_scale(data: LabeledData, rows: torch.Tensor) -> dict[str, list[float]] | None:
    """A regression's target mean and standard deviation over the training rows, per target:
    the network learns (y - mean) / std. None for classification."""
    if not data.targets:
        return None
    mean, std = moments(data.y, rows, [0])
    if (constant := std <= 1e-12).any():
        name = data.targets[int(constant.nonzero()[0])]
        raise DataError(
            f"data {data.name!r}: the target {name!r} is constant in the training split: "
            "there is nothing to learn; choose another target"
        )
    return {"mean": mean.tolist(), "std": std.tolist()}


# The rows `moments` sums at once, by their size. Small chunks: glibc serves the float64
# temporaries of chunks of several MB from its heap and, fragmented, the heap grew by 165 MB
# over 54,000 MNIST images (4,096 rows a chunk; measured) before the trim after loading gave
# it back; 1 MB chunks (334 such images) keep it to about 13 MB, and run faster.
MOMENTS_CHUNK_BYTES = 2**20


def moments(
    x: torch.Tensor, rows: torch.Tensor, dims: list[int], chunk: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and sample standard deviation of x[rows] over dims (the row axis first), summed in
    float64 chunks of `chunk` rows (about MOMENTS_CHUNK_BYTES of x): x[rows].mean() would
    first copy the whole split."""
    chunk = chunk or max(1, MOMENTS_CHUNK_BYTES // max(1, x[:1].numel() * x.element_size()))
    total = squares = torch.zeros(())
    for start in range(0, len(rows), chunk):
        part = x[rows[start : start + chunk]].double()
        total = total + part.sum(dim=dims, keepdim=True)
        squares = squares + part.square().sum(dim=dims, keepdim=True)
    count = x[:1].numel() * len(rows) // total.numel()
    mean = total / count
    variance = (squares - count * mean.square()) / max(count - 1, 1)
    return mean[0].float(), variance.clamp_min(0).sqrt()[0].float()


def fingerprint(data: LabeledData) -> str:
    """A short hash of the examples and labels: two runs with the same value saw the same data."""
    digest = hashlib.sha256()
    if data.texts is not None:  # the texts, not their ids: those depend on the tokenizer
        for text in data.texts:
            digest.update(text.encode())
            digest.update(b"\0")
    else:
        # Hashed in place through the buffer protocol: tobytes() would copy the whole data set.
        digest.update(data.x.contiguous().numpy().data)
    digest.update(data.y.contiguous().numpy().data)
    return digest.hexdigest()[:12]


def build_datamodule(
    cfg: Any, task: str = "classification", tokenizer: Tokenizer | None = None
) -> DataModule:
    """Load conf/data's source for `task` and wrap it: split, tokenize (text: `tokenizer`,
    conf/tokenizer's or a trained model's fitted one), standardise, augment, serve."""
    from tunelab.data.augment import PerSample
    from tunelab.errors import instantiate

    augment = PerSample(instantiate(cfg.augment, _convert_="all")) if cfg.get("augment") else None
    datamodule = DataModule(
        load_source(cfg.source, task),
        split=dict(cfg.split),
        batch_size=cfg.batch_size,
        fold=cfg.get("fold"),
        num_folds=cfg.get("num_folds"),
        in_memory=cfg.get("in_memory", "auto"),
        num_workers=cfg.get("num_workers", 0),
        augment=augment,
        tokenizer=tokenizer,
    )
    trim_heap()  # the temporaries of reading and standardising, freed but still resident
    return datamodule


def build_tokenizer(cfg_tokenizer: Any) -> Tokenizer | None:
    """conf/tokenizer's choice, not yet fitted; None where the data is not text."""
    from tunelab.errors import instantiate

    return instantiate(cfg_tokenizer) if cfg_tokenizer else None


def load_source(cfg_source: Any, task: str) -> LabeledData:
    """conf/data's source, called with the task when it takes one: a table's target can be
    class labels or numbers; image sources give class labels only."""
    import inspect

    from hydra.utils import get_method

    from tunelab.errors import instantiate

    loader = get_method(cfg_source._target_)
    if "task" in inspect.signature(loader).parameters:
        return instantiate(cfg_source, task=task, _convert_="all")
    if task != "classification":
        raise DataError(
            f"task={task}: {cfg_source._target_} gives class labels, not numbers: regression "
            "needs a table with a numeric target (data=csv, data=diabetes)"
        )
    return instantiate(cfg_source, _convert_="all")
