"""The fixed cost of a sweep trial beyond its training.

python -m benchmarks.sweep [--trials 8] [--epochs 3]
Runs a 2-trial and an N-trial sweep per launcher. The cost of one more trial is the growth in
wall time minus the growth in training time, per added trial: the interpreter, imports and
store that every sweep pays once are not in it. (That one-time cost is shown too.)
"""

import argparse

from benchmarks.common import ROOT, report, run, run_peak, scratch

LAUNCHERS = {"basic": [], "joblib n_jobs=2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]}


def training_seconds(root, experiment: str) -> float:
    """The trials' training loops, from their train/epoch_time histories."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    runs = client.search_runs(
        [client.get_experiment_by_name(experiment).experiment_id], max_results=1000
    )
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return sum(
        sum(m.value for m in client.get_metric_history(r.info.run_id, "train/epoch_time"))
        for r in children
    )


def sweep(
    root, trials: int, epochs: int, launcher: list[str], name: str
) -> tuple[float, float, float]:
    """(wall, summed training seconds, peak MiB of the process tree) of one sweep."""
    rates = ",".join(f"{(i + 1) * 1e-3:g}" for i in range(trials))
    args = [
        str(ROOT / "train.py"),
        "-m",
        f"tracking.experiment={name}",
        f"optimizer.lr={rates}",
        f"trainer.max_epochs={epochs}",
        "callbacks.early_stopping=null",
        "print_config=false",
        "callbacks.progress_bar=null",
        *launcher,
    ]
    wall, _, peak = run_peak(args, root)
    return wall, training_seconds(root, name), peak


def main(
    trials: int, epochs: int, launchers: tuple[str, ...] = tuple(LAUNCHERS), warm: bool = True
) -> None:
    rows = []
    for name in launchers:
        root = scratch()
        if warm:  # create the store first: its one-time creation is no sweep's cost
            run([str(ROOT / "train.py"), "trainer.max_epochs=1", "print_config=false"], root)
        small_wall, small_train, small_peak = sweep(root, 2, epochs, LAUNCHERS[name], "small")
        wall, train, peak = sweep(root, trials, epochs, LAUNCHERS[name], "large")
        per_trial = ((wall - small_wall) - (train - small_train)) / (trials - 2)
        rows.append(
            {
                "launcher": name,
                "trials": trials,
                "sweep wall s": wall,
                "sum of training s": train,
                "fixed cost per trial s": per_trial,
                "one-time cost s": small_wall - small_train - 2 * per_trial,
                "2-trial peak MiB": small_peak,
                f"{trials}-trial peak MiB": peak,
            }
        )
    report(
        "sweep",
        f"{trials}-trial sweeps of {epochs}-epoch digits runs",
        rows,
        [
            "fixed cost per trial: (wall - training) growth from a 2-trial to the N-trial sweep, per added trial",
            "with joblib two trials train at once, so their training seconds overlap in the wall",
            "peak: the resident memory of the whole process tree (controller, writers, "
            "launcher workers), sampled every 50 ms",
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="3 trials of 1 epoch, basic launcher")
    options = parser.parse_args()
    main(*((3, 1, ("basic",), False) if options.tiny else (options.trials, options.epochs)))
