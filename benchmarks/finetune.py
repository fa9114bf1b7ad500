"""Starting from trained weights, averaging weights, finding the learning rate: what each buys on
this machine, offline.

1. Fine-tuned against from scratch: the CNN pre-trained on digits 0-4 (all their images), then
   trained on digits 5-9 from 10 images per class (the low-data case pre-training is for) with
   its convolutions frozen for the first half of the epochs (and without freezing), against
   the same network from random weights with the same budget (batches of 10); test accuracy
   after 1, 3 and 10 epochs. (The issue
   suggests MNIST as the source; it needs a download, which this machine does not have: the
   digits' other classes stand in, the same kind of images.)
2. EMA against none on the default recipe, three seeds.
3. The finder's suggestion against the best learning rate of a 10-value grid (10 epochs each).

    python -m benchmarks.finetune            # the closing note's tables
    python -m benchmarks.finetune --tiny     # the tests' smoke run
"""

import argparse
import re
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, report, run, run_id_of, scratch

QUIET = ["print_config=false", "callbacks.progress_bar=null"]
SMALL_DIGITS = ["data=image_folder", "data.source.size=[8,8]", "data.source.channels=1"]
# --tiny's runs log no MLflow model (about 4 s a run): init_from= reads the best checkpoint
NO_MODEL = ["tracking.log_model=false"]


def write_digit_folders(root: Path, per_class: int) -> tuple[Path, Path]:
    """Digits 0-4 as one class folder each (the source), and digits 5-9 as train/ (per_class
    each), val/ (per_class each) and test/ (the rest) folders."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from torchvision.io import write_png

    digits = load_digits()
    images = (digits.images / 16 * 255).astype(np.uint8)
    source, target = root / "digits_0_4", root / "digits_5_9"
    seen: dict[int, int] = {}
    for i, (image, label) in enumerate(zip(images, digits.target, strict=True)):
        label = int(label)
        if label < 5:
            folder = source / str(label)
        else:
            count = seen[label] = seen.get(label, 0) + 1
            split = "train" if count <= per_class else "val" if count <= 2 * per_class else "test"
            folder = target / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        write_png(torch.from_numpy(image).unsqueeze(0), str(folder / f"{i}.png"))
    return source, target


def train(root: Path, overrides: list[str]) -> tuple[str, str]:
    """`python train.py OVERRIDES` in `root`'s store: (its run id, its stdout)."""
    _, out = run([str(ROOT / "train.py"), *QUIET, *overrides], root)
    return run_id_of(out), out


def metrics(root: Path, run_id: str) -> dict[str, float]:
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{root}/mlflow.db").get_run(run_id).data.metrics


def fine_tuning(root: Path, epochs: list[int], tiny: bool) -> list[dict]:
    source, target = write_digit_folders(root / "images", per_class=10)
    pretrain = ["trainer.max_epochs=1", *NO_MODEL] if tiny else ["trainer.max_epochs=20"]
    source_run, _ = train(root, [*SMALL_DIGITS, f"data.source.root={source}", *pretrain])
    rows = []
    for budget in epochs:
        common = [
            *SMALL_DIGITS,
            f"data.source.root={target}",
            f"trainer.max_epochs={budget}",
            "data.batch_size=10",  # 5 optimizer steps an epoch from the 50 training images
            "callbacks.early_stopping=null",
            *(NO_MODEL if tiny else []),
        ]
        until = f"freeze.until_epoch={budget // 2}" if budget > 1 else "freeze.until_epoch=null"
        # --tiny: each kind of command once; the pre-training stands in for from scratch,
        # the frozen run (init_from too) for fine-tuned
        scratch_run = source_run if tiny else train(root, common)[0]
        tuned_run = None if tiny else train(root, [*common, f"init_from={source_run}"])[0]
        frozen_run, _ = train(
            root, [*common, f"init_from={source_run}", "freeze.modules=[features]", until]
        )
        rows.append(
            {
                "epochs": budget,
                "from scratch": metrics(root, scratch_run)["test/acc"],
                "fine-tuned": metrics(root, tuned_run or frozen_run)["test/acc"],
                "fine-tuned, frozen then not": metrics(root, frozen_run)["test/acc"],
            }
        )
    return rows


def averaging(root: Path, seeds: list[int], tiny: bool) -> list[dict]:
    budget = ["trainer.max_epochs=2", *NO_MODEL] if tiny else []
    rows = []
    for seed in seeds:
        plain, _ = train(root, [f"seed={seed}", *budget])
        ema, _ = train(root, [f"seed={seed}", "callbacks=ema", *budget])
        rows.append(
            {
                "seed": seed,
                "none: test acc": metrics(root, plain)["test/acc"],
                "ema: test acc": metrics(root, ema)["test/acc"],
                "none: epochs": int(metrics(root, plain)["epochs_trained"]),
                "ema: epochs": int(metrics(root, ema)["epochs_trained"]),
            }
        )
    return rows


def finder_against_grid(root: Path, rates: list[float], budget: list[str]) -> list[dict]:
    _, out = train(root, ["lr_find=true"])
    suggestion = float(re.search(r"suggested learning rate ([0-9.e+-]+)", out).group(1))
    rows = []
    for lr in [*rates, suggestion]:
        run_id, _ = train(root, [f"optimizer.lr={lr}", *budget])
        found = metrics(root, run_id)
        rows.append(
            {
                "optimizer.lr": f"{lr:.3g}" + (" (finder)" if lr == suggestion else ""),
                "val acc best": found["objective"],
                "test acc": found["test/acc"],
            }
        )
    return rows


def main(tiny: bool, parts: list[str]) -> None:
    root = scratch()
    if "finetune" in parts:
        epochs = [1] if tiny else [1, 3, 10]
        note = (
            "test acc on the other images of digits 5-9; fine-tuned: a new output layer, the "
            "convolutions frozen for the first half of the epochs"
        )
        title = "digits 5-9 from 10 images a class: fine-tuned from digits 0-4, or from scratch"
        report("finetune", title, fine_tuning(root, epochs, tiny), [note])
    if "ema" in parts:
        seeds = [42] if tiny else [42, 1, 2]
        title = "the default recipe with and without EMA (decay 0.99)"
        report("ema", title, averaging(root, seeds, tiny))
    if "lr_find" in parts:
        # --tiny: no grid, the finder's suggestion alone (the same command as a grid value's)
        rates = [] if tiny else [10 ** (-4 + i / 3) for i in range(10)]  # 1e-4 .. 1e-1
        title = "the finder's suggestion against a grid of learning rates (10 epochs each)"
        budget = ["trainer.max_epochs=1", *NO_MODEL] if tiny else ["trainer.max_epochs=10"]
        report("lr_find", title, finder_against_grid(root, rates, budget))


PARTS = ["finetune", "ema", "lr_find"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="one budget, one seed, no grid")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    options = parser.parse_args()
    main(options.tiny, options.only)
