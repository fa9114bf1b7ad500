"""The yardstick for a whole `python train.py` process: what a user writes by hand with
nothing but PyTorch, for the job tunelab's default MLP does on an MNIST-format folder.

python benchmarks/lean_script.py DIR [--epochs 2] [--batch-size 128]
DIR holds MNIST/raw/*-idx?-ubyte. Prints one JSON line: {"loop_s", "val_acc", "test_acc"}.

Why this one and not benchmarks/plain_loop.py: that script borrows tunelab's stratified split
(scikit-learn and pandas, about 1 s and 110 MB) and its networks so that its loop does exactly
tunelab's work; a person timing "my script against the template" writes this instead. It
decodes the files once into one tensor, holds out 10 % of the training files at random for
validation (tunelab's share; the 10,000 test images stay the test split), standardises with the
training split's mean and deviation, and trains the same network (2 hidden layers of 256 units)
with Adam at 1e-3 through a TensorDataset and a DataLoader, reporting validation accuracy each
epoch and test accuracy at the end, as tunelab does. No tracking, no checkpoints.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def idx(path: Path) -> np.ndarray:
    """An IDX file's array (MNIST's format: a magic number, the sizes, then the bytes)."""
    raw = path.read_bytes()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    raw = folder / "MNIST" / "raw"
    images = torch.from_numpy(idx(raw / "train-images-idx3-ubyte").astype(np.float32) / 255)
    labels = torch.from_numpy(idx(raw / "train-labels-idx1-ubyte").astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(42))
    held = len(labels) // 10
    test_x = torch.from_numpy(idx(raw / "t10k-images-idx3-ubyte").astype(np.float32) / 255)
    test_y = torch.from_numpy(idx(raw / "t10k-labels-idx1-ubyte").astype(np.int64))
    train_x = images[order[held:]]
    mean, std = train_x.mean(), train_x.std()
    return {
        "train": ((train_x - mean) / std, labels[order[held:]]),
        "val": ((images[order[:held]] - mean) / std, labels[order[:held]]),
        "test": ((test_x - mean) / std, test_y),
    }


def accuracy(network: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    network.eval()
    with torch.no_grad():
        correct = sum(
            (network(xb).argmax(1) == yb).sum().item()
            for xb, yb in DataLoader(TensorDataset(x, y), batch_size=1024)
        )
    network.train()
    return correct / len(y)


def main(folder: Path, epochs: int, batch_size: int) -> None:
    torch.manual_seed(42)
    splits = load(folder)
    network = nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    batches = DataLoader(TensorDataset(*splits["train"]), batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        for x, y in batches:
            loss = F.cross_entropy(network(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        val_acc = accuracy(network, *splits["val"])
    loop = time.perf_counter() - start
    test_acc = accuracy(network, *splits["test"])
    print(json.dumps({"loop_s": loop, "val_acc": val_acc, "test_acc": test_acc}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    options = parser.parse_args()
    main(options.folder, options.epochs, options.batch_size)
