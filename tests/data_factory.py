"""Small stand-ins for real data sets, written by the tests into temporary folders."""

import pickle
import struct
from pathlib import Path

import numpy as np


def _images(
    n: int, shape: tuple[int, ...], classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Class-dependent images (a bright band per class) so a model can learn them quickly."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    images = rng.integers(0, 60, size=(n, *shape), dtype=np.uint8)
    rows = shape[-2]
    for i, label in enumerate(labels):
        band = slice(label * rows // classes, (label + 1) * rows // classes)
        images[i, ..., band, :] = 220
    return images, labels.astype(np.uint8)


def write_idx(folder: Path, n_train: int = 200, n_test: int = 60, classes: int = 10) -> None:
    """MNIST's IDX files (uncompressed), as torchvision expects them in ROOT/MNIST/raw."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = _images(n, (28, 28), classes, seed)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes()
        )
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.tobytes()
        )


def write_cifar10(root: Path, per_batch: int = 40, n_test: int = 50) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        n = n_test if name == "test_batch" else per_batch
        images, labels = _images(n, (3, 32, 32), 10, seed=i)
        batch = {b"data": images.reshape(n, -1), b"labels": labels.tolist()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}, protocol=2))


def write_png_folder(
    root: Path, classes=("cat", "dog", "fox"), per_class: int = 12, size=(20, 24)
) -> None:
    import torch
    from torchvision.io import write_png

    images, labels = _images(per_class * len(classes), (3, *size), len(classes), seed=3)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        write_png(torch.from_numpy(image), str(folder / f"{i}.png"))


def write_csv(path: Path, rows: int = 120) -> None:
    rng = np.random.default_rng(0)
    species = np.array(["setosa", "versicolor", "virginica"])[np.arange(rows) % 3]
    size = rng.normal(5, 1, rows) + (np.arange(rows) % 3) * 2.0
    weight = rng.normal(100, 20, rows)
    colour = np.array(["red", "green"])[rng.integers(0, 2, rows)]
    lines = ["id,size,weight,colour,species"]
    lines += [
        f"{i},{s:.3f},{w:.3f},{c},{k}"
        for i, (s, w, c, k) in enumerate(zip(size, weight, colour, species, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")


def write_library_docs(folder: Path, per_library: int = 12) -> Path:
    """A small stand-in for data=library_docs' CSV (text, library), so that a test does not
    read the installed libraries' sources (about 20 s): five libraries, distinct words each."""
    import csv

    path = folder / "library_docs.csv"
    folder.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "library"])
        for library in ("numpy", "pandas", "sklearn", "torch", "matplotlib"):
            for i in range(per_library):
                writer.writerow([f"Return the {library} result number {i} of the call.", library])
    return path
