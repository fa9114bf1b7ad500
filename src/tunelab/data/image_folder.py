"""The user's own images: ROOT/<class>/*.png|jpg, or ROOT/train|val|test/<class>/*."""

from pathlib import Path

import torch

from tunelab.data.folders import split_folders
from tunelab.data.inputs import image_files, read_image
from tunelab.data.labeled import LabeledData, unit_floats
from tunelab.errors import DataError


def class_folders(root: Path) -> dict[str, list[Path]]:
    """{class name: its image files}, classes from the sub-folder names, sorted."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DataError(f"{root} has no class folders: put images in {root}/<class name>/*.png")
    found = {}
    for folder in folders:
        files = image_files(folder)
        if not files:
            raise DataError(
                f"class folder {folder} holds no images (.png, .jpg, ...): add some or remove it"
            )
        found[folder.name] = files
    return found


def load_image_folder(
    root: str, size: tuple[int, int] = (32, 32), channels: int = 3
) -> LabeledData:
    """All images resized to `size`, as floats in [0, 1]; split folders are kept as splits."""
    base = Path(root)
    folders = split_folders(base, "image")
    split_dirs = [s for s in folders if s != "all"]
    parts = {split: class_folders(folder) for split, folder in folders.items()}
    classes = sorted({c for part in parts.values() for c in part})
    images, labels, fixed, start = [], [], {}, 0
    for split, by_class in parts.items():
        for name, files in by_class.items():
            images += [read_image(f, (size[0], size[1]), channels) for f in files]
            labels += [classes.index(name)] * len(files)
        if split != "all" and split != "train":
            fixed[split] = torch.arange(start, len(labels))
        start = len(labels)
    x = unit_floats(*(image.unsqueeze(0) for image in images))  # [C, H, W] each
    info: dict[str, object] = {"root": str(base), "classes": classes, "split_folders": split_dirs}
    return LabeledData(
        f"image_folder:{base.name}",
        x,
        torch.tensor(labels),
        classes,
        fixed_splits=fixed,
        info=info,
        raw={"scale": 255.0},
    )
