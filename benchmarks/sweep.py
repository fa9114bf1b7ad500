"""The fixed cost of a trial: an 8-trial sweep against 8 times one trial's training time.

python -m benchmarks.sweep [--trials 8] [--epochs 3]
"""

import argparse

from benchmarks.common import ROOT, report, run, scratch


def training_seconds(root, experiment: str) -> list[float]:
    """Each trial's training-loop time, from its train/epoch_time history."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    runs = client.search_runs(
        [client.get_experiment_by_name(experiment).experiment_id], max_results=1000
    )
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return [
        sum(m.value for m in client.get_metric_history(r.info.run_id, "train/epoch_time"))
        for r in children
    ]


def main(trials: int, epochs: int, launchers=("basic", "joblib n_jobs=2")) -> None:
    rates = ",".join(f"{(i + 1) * 1e-3:g}" for i in range(trials))
    common = [
        f"optimizer.lr={rates}",
        f"trainer.max_epochs={epochs}",
        "callbacks.early_stopping=null",
        "print_config=false",
        "callbacks.progress_bar=null",
    ]
    rows = []
    options = {"basic": [], "joblib n_jobs=2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]}
    for name in launchers:
        launcher = options[name]
        root = scratch()
        run(
            [str(ROOT / "train.py"), "trainer.max_epochs=1", "print_config=false"], root
        )  # store created
        wall, _ = run(
            [str(ROOT / "train.py"), "-m", "tracking.experiment=bench", *common, *launcher], root
        )
        training = training_seconds(root, "bench")
        rows.append(
            {
                "launcher": name,
                "trials": len(training),
                "sweep wall s": wall,
                "sum of training s": sum(training),
                "fixed cost per trial s": (wall - sum(training)) / len(training),
            }
        )
    report(
        "sweep",
        f"{trials}-trial sweeps of {epochs}-epoch digits runs",
        rows,
        [
            "fixed cost per trial = (sweep wall - sum of the trials' training loops) / trials; "
            "with joblib, two trials train at once, so the sum of their loops exceeds their share of the wall"
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="2 trials of 1 epoch")
    options = parser.parse_args()
    main(*((2, 1, ("basic",)) if options.tiny else (options.trials, options.epochs)))
