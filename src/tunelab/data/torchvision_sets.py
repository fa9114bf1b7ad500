"""MNIST, Fashion-MNIST and CIFAR-10 from paths.data_dir; downloaded only when asked."""

import pickle
from pathlib import Path

import numpy as np
import torch

from tunelab.data.labeled import LabeledData, unit_floats
from tunelab.errors import DataError

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta")


def _missing(folder: Path, files: tuple[str, ...], name: str, data_choice: str) -> DataError:
    absent = [f for f in files if not (folder / f).exists()]
    return DataError(
        f"{name} files not found: {', '.join(absent)} must be in {folder}. Download them with "
        f"`python train.py data={data_choice} data.download=true` (needs network), or copy them there; "
        f"paths.data_dir={folder.parents[1] if data_choice != 'cifar10' else folder.parent} sets the folder."
    )


def _with_fixed_test(
    name: str, x_train, y_train, x_test, y_test, classes: list[str], root: Path
) -> LabeledData:
    """The train and test files as one data set (bytes in, [0, 1] floats out), test fixed."""
    x = unit_floats(x_train, x_test)
    y = torch.cat([y_train, y_test]).long()
    test = torch.arange(len(y_train), len(y))
    return LabeledData(
        name,
        x,
        y,
        classes,
        fixed_splits={"test": test},
        info={"folder": str(root)},
        raw={"scale": 255.0},  # the files hold bytes
    )


def load_mnist(root: str, download: bool = False, fashion: bool = False) -> LabeledData:
    """MNIST (or Fashion-MNIST) from ROOT/MNIST/raw (ROOT/FashionMNIST/raw): the IDX files."""
    from torchvision import datasets

    dataset_class = datasets.FashionMNIST if fashion else datasets.MNIST
    name, choice = ("fashion_mnist", "fashion_mnist") if fashion else ("mnist", "mnist")
    raw = Path(root) / dataset_class.__name__ / "raw"
    if download:
        fetch_or_explain(lambda: dataset_class(root, train=True, download=True), name)
    if not all((raw / f).exists() for f in MNIST_FILES):
        raise _missing(raw, MNIST_FILES, dataset_class.__name__, choice)
    train, test = dataset_class(root, train=True), dataset_class(root, train=False)
    return _with_fixed_test(
        name,
        train.data.unsqueeze(1),
        train.targets,
        test.data.unsqueeze(1),
        test.targets,
        list(train.classes),
        raw,
    )


def load_fashion_mnist(root: str, download: bool = False) -> LabeledData:
    return load_mnist(root, download, fashion=True)


def load_cifar10(root: str, download: bool = False) -> LabeledData:
    """CIFAR-10's python batches from ROOT/cifar-10-batches-py.

    The files are read here, not through torchvision.datasets.CIFAR10, because that class
    verifies each file's MD5 on every load (and so rejects the small stand-in files tests
    build); downloading goes through torchvision, which checks the archive.
    """
    from torchvision import datasets

    folder = Path(root) / "cifar-10-batches-py"
    if download:
        fetch_or_explain(lambda: datasets.CIFAR10(root, train=True, download=True), "cifar10")
    if not all((folder / f).exists() for f in CIFAR10_FILES):
        raise _missing(folder, CIFAR10_FILES, "CIFAR-10", "cifar10")
    train = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _cifar_batch(folder / "test_batch")
    x_train, y_train = torch.cat([b[0] for b in train]), torch.cat([b[1] for b in train])
    meta = pickle.loads((folder / "batches.meta").read_bytes())
    classes = [
        c.decode() if isinstance(c, bytes) else c
        for c in meta[b"label_names" if b"label_names" in meta else "label_names"]
    ]
    return _with_fixed_test("cifar10", x_train, y_train, x_test, y_test, classes, folder)


def _cifar_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    batch = pickle.loads(path.read_bytes(), encoding="bytes")
    pixels = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return torch.from_numpy(pixels), torch.tensor(batch[b"labels"], dtype=torch.int64)


def fetch_or_explain(fetch, name: str) -> None:
    """Run `fetch`; a failure (no network, a refused host, a bad archive) ends in one line."""
    try:
        fetch()
    except (OSError, RuntimeError) as error:  # no network, a refused host, a bad archive
        raise DataError(
            f"downloading {name} failed ({error}); copy the files into paths.data_dir by hand, "
            "or run where the network is open"
        ) from None
