"""What a shipped variant is worth: its file's size, its non-zero parameters, its accuracy (a
regression's errors) on the test split and its CPU latency, each measured the same way for
every variant."""

import gzip
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

Predict = Callable[[np.ndarray], np.ndarray]  # inputs -> class probabilities, or values


def predictions(predict: Predict, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """predict over x in batches (memory stays flat on a large test split)."""
    return np.concatenate([predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def torch_predict(module: nn.Module) -> Predict:
    """A PyTorch module (eager or an exported program) as a Predict."""

    @torch.inference_mode()
    def predict(x: np.ndarray) -> np.ndarray:
        return module(torch.from_numpy(x)).numpy()

    return predict


def test_metrics(
    outputs: np.ndarray, targets: torch.Tensor, task: str, std: Any = None
) -> dict[str, float]:
    """The task's test metrics as training logs them (test/NAME, tunelab.training.metrics), of a
    variant's outputs (class probabilities, or a regression's values), named test_NAME; several
    regression targets: their mean in standard deviations (`std`, the training split's)."""
    from tunelab.training.metrics import stage_metrics, summarise

    metrics = stage_metrics(task, outputs.shape[1], "test")
    values = summarise(metrics(torch.from_numpy(outputs), targets), std=std)
    return {f"test_{key.removeprefix('test/')}": float(v) for key, v in values.items()}


def latency_ms(predict: Predict, x: np.ndarray, calls: int, warmup: int) -> float:
    """Median wall time of `calls` calls on x, in milliseconds, after `warmup` untimed ones."""
    for _ in range(warmup):
        predict(x)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def batch_of(x: np.ndarray, size: int) -> np.ndarray:
    """`size` examples from x, repeated when x holds fewer (a small test split)."""
    return np.resize(x, (size, *x.shape[1:]))


def file_kib(path: Path) -> tuple[float, float]:
    """The file's size and its gzip-compressed size, in KiB: a sparse variant's zeros only shrink the latter."""
    data = path.read_bytes()
    return len(data) / 1024, len(gzip.compress(data, compresslevel=6)) / 1024


def weights(network: nn.Module) -> list[torch.Tensor]:
    """The weights of the conv and linear layers: what pruning removes and quantization shrinks."""
    return [m.weight for m in network.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def parameter_counts(network: nn.Module) -> tuple[int, int]:
    """(parameters, non-zero parameters) of the network."""
    values = [p.detach() for p in network.parameters()]
    return sum(v.numel() for v in values), sum(int(v.count_nonzero()) for v in values)


def zero_fraction(network: nn.Module) -> float:
    """The fraction of conv and linear weights that are exactly zero."""
    values = weights(network)
    total = sum(v.numel() for v in values)
    return sum(int((v == 0).sum()) for v in values) / total


def test_examples(datamodule: Any) -> tuple[np.ndarray, torch.Tensor]:
    """The test split as the data source returns it (a shipped file's input) and its targets."""
    rows = datamodule.index["test"].cpu()  # a fine-tune on a GPU moved the indices there
    return datamodule.data.x[rows].numpy(), datamodule.data.y[rows]  # float32, or text's int64
