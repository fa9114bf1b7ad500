"""The share of a run's wall time spent in MLflow calls, per logging mode.

python -m benchmarks.tracking [--epochs 10]
Wall time counts from train.py's start (interpreter start-up and MLflow's import excluded);
the store exists already, so its one-time creation is not counted.
"""

import argparse
import json

from benchmarks.common import ROOT, report, run, scratch

CASES = {
    "per-epoch metrics, lr every 10 steps": [],
    "per-step (every metric and lr each step)": ["trainer.log_every_n_steps=1"],
}


def main(
    epochs: int, modes=("batched", "sync", "async"), cases=tuple(CASES), warm: bool = True
) -> None:
    root = scratch()
    base = [
        f"trainer.max_epochs={epochs}",
        "callbacks.early_stopping=null",
        "print_config=false",
        "callbacks.progress_bar=null",
    ]
    if warm:  # create the store first: its one-time creation is not counted
        run([str(ROOT / "train.py"), "trainer.max_epochs=1", "print_config=false"], root)
    rows = []
    for case in cases:
        extra = CASES[case]
        for mode in modes:
            _, out = run(
                [
                    str(ROOT / "benchmarks" / "timed_mlflow.py"),
                    *base,
                    *extra,
                    f"tracking.logging={mode}",
                ],
                root,
            )
            spent = json.loads(out.split("MLFLOW_TIME ")[-1])
            rows.append(
                {
                    "logging": case,
                    "mode": mode,
                    "mlflow s": spent["seconds"],
                    "calls": spent["calls"],
                    "run wall s": spent["wall"],
                    "mlflow share": spent["seconds"] / spent["wall"],
                }
            )
    report(
        "tracking",
        f"time in MLflow calls, {epochs}-epoch digits runs",
        rows,
        [
            "mlflow s includes creating the client (opening the store) and the run, params, tags, artifacts"
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--tiny", action="store_true", help="1 epoch")
    options = parser.parse_args()
    main(1, ("batched",), tuple(CASES)[:1], warm=False) if options.tiny else main(options.epochs)
