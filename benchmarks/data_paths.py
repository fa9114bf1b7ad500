"""Epoch time of the in-memory path (index slices) against a DataLoader, on digits and 60,000 images.

python -m benchmarks.data_paths [--epochs 3] [--size 60000]
"""

import argparse

from benchmarks.common import ROOT, report, run, scratch
from benchmarks.overhead import generated_mnist


def epoch_times(root, args: list[str]) -> list[float]:
    from mlflow import MlflowClient

    run([str(ROOT / "train.py"), *args], root)
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    latest = client.search_runs(
        [client.get_experiment_by_name("tunelab").experiment_id], max_results=1
    )[0]
    return [m.value for m in client.get_metric_history(latest.info.run_id, "train/epoch_time")]


def main(epochs: int, size: int, tiny: bool = False) -> None:
    root = scratch()
    generated_mnist(root / "data", size)
    sets = {
        "digits": ["data=digits"],
        f"generated {size} 28x28": ["data=mnist", f"paths.data_dir={root / 'data'}"],
    }
    if tiny:
        sets.pop("digits")
    paths = {
        "in memory (index slices)": ["data.in_memory=true"],
        "DataLoader, 0 workers": ["data.in_memory=false", "data.num_workers=0"],
        "DataLoader, 2 workers": ["data.in_memory=false", "data.num_workers=2"],
    }
    common = [f"trainer.max_epochs={epochs}", "callbacks.early_stopping=null", "print_config=false"]
    rows = []
    for data, data_args in sets.items():
        # tiny: the DataLoader path alone (tests/test_data.py checks both paths give the
        # same batches); it runs the whole script
        for path, path_args in list(paths.items())[1:2] if tiny else paths.items():
            times = epoch_times(root, [*data_args, *path_args, *common])
            steady = times[1:] or times  # the first epoch pays one-time warm-up
            rows.append(
                {
                    "data": data,
                    "served by": path,
                    "epoch s": sum(steady) / len(steady),
                    "epochs": len(times),
                }
            )
    report(
        "data_paths",
        "epoch time (training and validation) by data path",
        rows,
        ["mean over the epochs after the first"],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", type=int, default=60000)
    parser.add_argument("--tiny", action="store_true", help="1 epoch, 600 images, one path")
    options = parser.parse_args()
    main(*((1, 600, True) if options.tiny else (options.epochs, options.size)))
