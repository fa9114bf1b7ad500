"""Data sets kept as folders: ROOT/<class>/..., or ROOT/train|val|test/<class>/... (the user's
split folders, kept as the splits). Shared by the image and text folder sources."""

from pathlib import Path

from tunelab.errors import DataError

SPLITS = ("train", "val", "test")


def split_folders(base: Path, kind: str) -> dict[str, Path]:
    """{split: its folder} for ROOT/train|val|test, or {"all": ROOT} when it has no split
    folders; `kind` (image, text) names the folder in the errors."""
    if not base.is_dir():
        raise DataError(
            f"{kind} folder {base} does not exist: set data.source.root to a folder of class folders"
        )
    found = [s for s in SPLITS if (base / s).is_dir()]
    if found and "train" not in found:
        raise DataError(f"{base} has {', '.join(found)}/ but no train/ folder")
    return {s: base / s for s in found} if found else {"all": base}
