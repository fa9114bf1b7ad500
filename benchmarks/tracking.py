"""The share of a run's wall time the training process spends on MLflow, per writer and logging.

python -m benchmarks.tracking [--epochs 10]
Wall time counts from train.py's start (interpreter start-up excluded); the store exists
already, so its one-time creation is not counted.
"""

import argparse
import json

from benchmarks.common import ROOT, report, run, scratch

CASES = {
    "per-epoch metrics, lr every 10 steps": [],
    "per-step (every metric and lr each step)": ["trainer.log_every_n_steps=1"],
}
# (tracking.writer, tracking.flush_seconds): a side process or inline, batched or a write per call.
MODES = (("process", 5.0), ("process", 0.0), ("inline", 5.0), ("inline", 0.0))


def main(epochs: int, modes=MODES, cases=tuple(CASES), warm: bool = True) -> None:
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
        for writer, flush in modes:
            overrides = [f"tracking.writer={writer}", f"tracking.flush_seconds={flush}"]
            _, out = run(
                [str(ROOT / "benchmarks" / "timed_tracking.py"), *base, *CASES[case], *overrides],
                root,
            )
            spent = json.loads(out.split("TRACKING_TIME ")[-1])
            rows.append(
                {
                    "logging": case,
                    "writer": writer,
                    "flush s": flush,
                    "waited s": spent["seconds"],
                    "calls": spent["calls"],
                    "run wall s": spent["wall"],
                    "share": spent["seconds"] / spent["wall"],
                    "side processes cpu s": spent["side_cpu"],
                }
            )
    report(
        "tracking",
        f"time the training process spends on MLflow, {epochs}-epoch digits runs",
        rows,
        [
            "waited s: in tunelab's tracking calls (inline: MLflow's import, opening the store, "
            "every write); side processes cpu s: the writer process (and git), beside the training"
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--tiny", action="store_true", help="1 epoch")
    options = parser.parse_args()
    if options.tiny:
        main(1, MODES[:1], tuple(CASES)[:1], warm=False)
    else:
        main(options.epochs)
