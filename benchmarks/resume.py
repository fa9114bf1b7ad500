"""A run stopped by SIGTERM and resumed (resume=RUN_ID) against the same run uninterrupted
(reproduce=RUN_ID): per-epoch validation accuracy and the test metrics, side by side.

    python benchmarks/resume.py [--epochs 12]     # the table of the closing note (resume.json)
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PYTHON, ROOT, report, run, scratch

RUN = [
    "model=mlp",
    "data.batch_size=8",
    "callbacks.early_stopping=null",
    "callbacks.progress_bar=null",
    "print_config=false",
    "tracking.flush_seconds=0",
]


def stopped_run(root: Path, epochs: int) -> str:
    """Start a run of `epochs` epochs, SIGTERM it once its first epoch is checkpointed."""
    env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = [PYTHON, str(ROOT / "train.py"), *RUN, f"trainer.max_epochs={epochs}"]
    process = subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.DEVNULL)
    while not list(root.glob("outputs/*/*/checkpoints/last.ckpt")):
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    process.wait()
    from mlflow import MlflowClient

    (killed,) = MlflowClient(f"sqlite:///{root}/mlflow.db").search_runs(["1"])
    return killed.info.run_id


def main(epochs: int) -> None:
    from mlflow import MlflowClient

    root = scratch()
    run_id = stopped_run(root, epochs)
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    done_before = len(client.get_metric_history(run_id, "val/acc"))
    run([str(ROOT / "train.py"), f"resume={run_id}"], root)
    run([str(ROOT / "train.py"), f"reproduce={run_id}"], root)
    (copy,) = client.search_runs(["1"], filter_string=f"tags.reproduces = '{run_id}'")
    runs = {"resumed": client.get_run(run_id), "uninterrupted": copy}
    curves = {
        name: {m.step: m.value for m in client.get_metric_history(r.info.run_id, "val/acc")}
        for name, r in runs.items()
    }
    rows = [
        {"epoch": str(step), **{name: curves[name].get(step, float("nan")) for name in runs}}
        for step in sorted(curves["uninterrupted"])
    ]
    for key in ("objective", "test/acc", "test/f1", "test/loss"):
        rows.append({"epoch": key, **{n: r.data.metrics[key] for n, r in runs.items()}})
    same = all(r["resumed"] == r["uninterrupted"] for r in rows)
    report(
        "resume",
        f"val/acc per epoch and test metrics: stopped after {done_before} of {epochs} epochs "
        "and resumed, against the same run uninterrupted",
        rows,
        [f"identical: {same}  (the same MLflow run id before and after the resume: {run_id})"],
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    main(parser.parse_args().epochs)
