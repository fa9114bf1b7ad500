"""Classical baselines beside the networks, on the same split: the bundled diabetes regression
(`experiment=diabetes_mlp` against each estimator) and a generated classification table (an
MLP against each estimator); test metrics and the wall time of each whole command.

    python -m benchmarks.baselines            # the closing note's table
    python -m benchmarks.baselines --tiny     # the tests' smoke run: the network (2 epochs) on
                                              # diabetes, one estimator on the species table
"""

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, report, run, run_id_of, scratch

ESTIMATORS = ["linear", "random_forest", "gradient_boosting", "svm"]
QUIET = ["print_config=false", "callbacks.progress_bar=null"]


def write_species(path: Path, rows: int = 600) -> list[str]:
    """Three species told apart by size and weight (overlapping), a colour that is noise."""
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(0)
    species = generator.integers(0, 3, rows)
    frame = pd.DataFrame(
        {
            "size": generator.normal(5, 1, rows) + species * 1.5,
            "weight": generator.normal(100, 15, rows) + species * 20,
            "colour": generator.choice(["red", "green"], rows),
            "species": np.array(["a", "b", "c"])[species],
        }
    )
    frame.to_csv(path, index=False)
    return [
        "data=csv",
        f"data.source.path={path}",
        "data.source.target=species",
        "data.source.categorical=[colour]",
        "task=classification",
    ]


def row(root: Path, script: str, label: str, args: list[str], metric: str) -> dict:
    from mlflow import MlflowClient

    wall, out = run([str(ROOT / script), *args], root)
    run_id = run_id_of(out)
    metrics = MlflowClient(f"sqlite:///{root}/mlflow.db").get_run(run_id).data.metrics
    data = args[0].removeprefix("data=")
    return {
        "data": data,
        "model": label,
        "metric": metric,
        "value": metrics[metric],
        "wall_s": wall,
    }


def main(tiny: bool) -> None:
    root = scratch()
    # --tiny: each command once, the network on diabetes (2 epochs), linear on the species table
    budget = ["trainer.max_epochs=2"] if tiny else []
    rows = [
        row(
            root,
            "train.py",
            "experiment=diabetes_mlp",
            ["data=diabetes", "experiment=diabetes_mlp", *QUIET, *budget],
            "test/r2",
        )
    ]
    rows += [
        row(root, "baseline.py", e, ["data=diabetes", f"estimator={e}"], "test/r2")
        for e in ([] if tiny else ESTIMATORS)
    ]
    species = write_species(root / "species.csv")
    if not tiny:
        rows.append(row(root, "train.py", "model=mlp", [*species, "model=mlp", *QUIET], "test/acc"))
    rows += [
        row(root, "baseline.py", e, [*species, f"estimator={e}"], "test/acc")
        for e in (ESTIMATORS[:1] if tiny else ESTIMATORS)
    ]
    notes = ["wall_s: the whole command (interpreter start, imports, the store, the model logged)"]
    report("baselines", "networks beside scikit-learn baselines, same split", rows, notes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="each command once, 2 epochs")
    main(parser.parse_args().tiny)
