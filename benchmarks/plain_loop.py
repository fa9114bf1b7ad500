"""The yardstick: the same network, data, split, optimizer and epochs in a plain PyTorch loop.

python benchmarks/plain_loop.py --data digits|DIR --epochs 2 --batch-size 64 [--model cnn|mlp]
    [--device cuda] [--precision bf16-mixed] [--compile]
Prints one JSON line: {"loop_s": ..., "test_acc": ...}. DIR holds MNIST-style IDX files
(DIR/MNIST/raw) or CIFAR-10's python batches (DIR/cifar-10-batches-py). On
another device the splits sit there whole, as tunelab's in-memory batches do (trainer=gpu).
"""

import argparse
import contextlib
import functools
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from tunelab.data.splits import split_indices  # noqa: E402  (the same split, so the same work)
from tunelab.models.cnn import CNN  # noqa: E402  (the same networks)
from tunelab.models.mlp import MLP  # noqa: E402

NETWORKS = {"cnn": CNN, "mlp": MLP}  # tunelab's model=cnn / model=mlp with their defaults


def load(data: str) -> tuple[torch.Tensor, torch.Tensor, dict]:
    if data == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
        y = torch.tensor(bunch.target)
        return x, y, split_indices(y.numpy(), 0.15, 0.15, 42)
    # CIFAR-10's python batches, as tunelab reads them
    if Path(data, "cifar-10-batches-py").exists():
        from tunelab.data.torchvision_sets import load_cifar10

        cifar = load_cifar10(data)
        test = cifar.fixed_splits["test"].numpy()
        return cifar.x, cifar.y, split_indices(cifar.y.numpy(), 0.1, None, 42, fixed={"test": test})
    parts = []
    for prefix in ("train", "t10k"):
        raw = Path(data, "MNIST", "raw")
        images = (raw / f"{prefix}-images-idx3-ubyte").read_bytes()
        labels = (raw / f"{prefix}-labels-idx1-ubyte").read_bytes()
        n, rows, cols = struct.unpack(">III", images[4:16])
        pixels = np.frombuffer(images[16:], np.uint8).reshape(n, 1, rows, cols)
        parts.append(
            (
                torch.from_numpy(pixels.copy()).float() / 255,
                torch.from_numpy(np.frombuffer(labels[8:], np.uint8).copy()).long(),
            )
        )
    x, y = torch.cat([parts[0][0], parts[1][0]]), torch.cat([parts[0][1], parts[1][1]])
    test = np.arange(len(parts[0][1]), len(y))
    return x, y, split_indices(y.numpy(), 0.1, None, 42, fixed={"test": test})


def accuracy(model, x, y, batch_size, autocast=contextlib.nullcontext) -> float:
    model.eval()
    correct = 0
    with torch.no_grad(), autocast():
        for i in range(0, len(y), batch_size):
            correct += (
                (model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum().item()
            )
    model.train()
    return correct / len(y)


def normalized_splits(data: str) -> tuple[tuple[int, ...], dict[str, tuple]]:
    """(input shape, {split: (x, y)}) with every split normalised by the training statistics."""
    x, y, index = load(data)
    train = x[index["train"]]
    mean, std = train.mean(dim=(0, 2, 3), keepdim=True), train.std(dim=(0, 2, 3), keepdim=True)
    return tuple(x.shape[1:]), {k: ((x[v] - mean) / std, y[v]) for k, v in index.items()}


def command_line(description: str | None, devices: bool = True) -> dict:
    """--data, --epochs, --batch-size, --model (and with `devices`, --device, --precision,
    --compile) as main()'s arguments (shared with lightning_loop.py)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", choices=list(NETWORKS), default="cnn")
    if devices:
        parser.add_argument("--device", default="cpu")
        parser.add_argument("--precision", choices=["32-true", "bf16-mixed"], default="32-true")
        parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    return {k.replace("-", "_"): v for k, v in vars(parser.parse_args()).items()}


def main(
    data: str,
    epochs: int,
    batch_size: int,
    model: str = "cnn",
    device: str = "cpu",
    precision: str = "32-true",
    compile: bool = False,
) -> None:
    torch.manual_seed(42)
    input_shape, splits = normalized_splits(data)
    splits = {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}
    network = NETWORKS[model](input_shape, 10).to(device)
    if compile:  # in place, as tunelab's compile=true
        network.compile()
    autocast = contextlib.nullcontext
    if precision == "bf16-mixed":  # as Lightning's bf16-mixed: autocast, float32 weights
        autocast = functools.partial(torch.autocast, torch.device(device).type, torch.bfloat16)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    xt, yt = splits["train"]
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(yt), device=device)
        for i in range(0, len(yt), batch_size):
            batch = order[i : i + batch_size]
            with autocast():
                loss = F.cross_entropy(network(xt[batch]), yt[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        val_acc = accuracy(network, *splits["val"], batch_size, autocast)  # .item(): synced
    loop = time.perf_counter() - start
    test_acc = accuracy(network, *splits["test"], batch_size, autocast)
    print(json.dumps({"loop_s": loop, "val_acc": val_acc, "test_acc": test_acc}))


if __name__ == "__main__":
    main(**command_line(__doc__))
