"""A whole `python train.py` process against the lean script a user would write by hand
(benchmarks/lean_script.py): wall time and peak memory of the process tree, and where
tunelab's wall time goes (benchmarks/timeline.py).

python -m benchmarks.whole_run [--size 60000] [--epochs 2] [--repeats 3] [--tiny]
The default MLP (2 x 256) at batch 128 on a generated MNIST-format set of SIZE training images
(and SIZE/6 test images), as in issue 36. Writes benchmarks/whole_run.json.
"""

import argparse
import json
import os
import statistics

from benchmarks.common import ROOT, report, run_sampled, scratch
from benchmarks.overhead import generated_mnist, train_args, tunelab_run

BATCH = 128


def mnist_mlp(data_dir) -> list[str]:
    """The job's data and network: the generated MNIST-format set, the default MLP."""
    return ["data=mnist", f"paths.data_dir={data_dir}", "model=mlp"]


def lean(root, data_dir, epochs: int) -> tuple[float, float, float]:
    """(wall, peak MiB, test accuracy) of the lean script."""
    args = [str(ROOT / "benchmarks" / "lean_script.py"), str(data_dir), "--epochs", str(epochs)]
    wall, out, samples = run_sampled(args, root)
    return wall, max(m.tree for m in samples), json.loads(out.splitlines()[-1])["test_acc"]


def tunelab(root, data_dir, epochs: int) -> tuple[float, float, float, float]:
    """(wall, peak MiB of the tree, of the training process, of the rest: the writer)."""
    wall, _loop, *peaks = tunelab_run(root, mnist_mlp(data_dir), epochs, BATCH, [])
    return wall, *peaks


def timeline(root, data_dir, epochs: int) -> dict[str, dict[str, float]]:
    out = root / "timeline.json"
    args = ["-m", "benchmarks.timeline", *train_args(mnist_mlp(data_dir), epochs, BATCH)]
    run_sampled(args, root, env={"TIMELINE_OUT": str(out), "PYTHONPATH": str(ROOT)})
    return json.loads(out.read_text())


def main(size: int, epochs: int, repeats: int, warm: bool = True) -> None:
    root = scratch()
    generated_mnist(root / "data", size)
    data_dir = root / "data"
    if warm:
        tunelab(root, data_dir, 1)  # creates the store: a one-time cost, not counted
    lean_runs, tunelab_runs = [], []
    for _ in range(repeats):  # alternating, so a drifting machine weighs on both alike
        lean_runs.append(lean(root, data_dir, epochs))
        tunelab_runs.append(tunelab(root, data_dir, epochs))
    l_wall, l_peak, accuracy = (statistics.median(v) for v in zip(*lean_runs, strict=True))
    t_wall, t_peak, t_process, t_writer = (
        statistics.median(v) for v in zip(*tunelab_runs, strict=True)
    )
    phases = timeline(root, data_dir, epochs)
    rows = [
        {"what": "lean script: wall s", "value": l_wall},
        {"what": "tunelab: wall s", "value": t_wall},
        {"what": "wall ratio", "value": t_wall / l_wall},
        {"what": "lean script: peak MiB", "value": l_peak},
        {"what": "tunelab: peak MiB of the process tree", "value": t_peak},
        {
            "what": "  training process / MLflow writer",
            "value": f"{t_process:.0f} / {t_writer:.0f}",
        },
        {"what": "peak ratio", "value": t_peak / l_peak},
        {"what": "lean script: test accuracy", "value": accuracy},
    ]
    for name, entry in sorted(phases.items(), key=lambda item: -item[1]["s"]):
        rows.append({"what": f"tunelab timeline: {name} s", "value": entry["s"]})
        rows.append({"what": "  the training process's peak MiB in it", "value": entry["peak MiB"]})
    report(
        "whole_run",
        f"python train.py against a lean PyTorch script, MLP at batch {BATCH}, {epochs} epochs on "
        f"{size} generated 28x28 images",
        rows,
        [
            f"medians of {repeats} alternating runs; peak: resident memory of the process tree, "
            "sampled every 50 ms; timeline: one more tunelab run, its main thread sampled "
            "every 5 ms (benchmarks/timeline.py), from the interpreter's start on"
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="600 images, 1 epoch, once")
    options = parser.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    if options.tiny:  # the script runs: no uncounted first run
        main(600, 1, 1, warm=False)
    else:
        main(options.size, options.epochs, options.repeats)
