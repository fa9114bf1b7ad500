"""The fixed cost of a sweep trial beyond its training, and a sweep's memory trial by trial.

python -m benchmarks.sweep [--trials 8] [--epochs 3] [--size 60000]
Runs a 2-trial and an N-trial sweep per launcher. The cost of one more trial is the growth in
wall time minus the growth in training time, per added trial: the interpreter, imports and
store that every sweep pays once are not in it. (That one-time cost is shown too.)
Then an N-trial sweep in one process on a generated MNIST-format set of SIZE images (the MLP,
1 epoch a trial) beside a single run of the same trial: the peak of each trial, which must
stay flat (sweep_memory.json).
"""

import argparse
import statistics

from benchmarks.common import ROOT, Memory, report, run, run_sampled, scratch

LAUNCHERS = {"basic": [], "joblib n_jobs=2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]}


def trials(root, experiment: str) -> list:
    """The sweep's child runs, in the order they started."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    runs = client.search_runs(
        [client.get_experiment_by_name(experiment).experiment_id],
        max_results=1000,
        order_by=["attributes.start_time ASC"],
    )
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def trial_peaks(root, experiment: str, samples: list[Memory]) -> list[float]:
    """The process tree's peak MiB while each trial's run was open, in trial order."""
    return [
        max(
            (m.tree for m in samples if r.info.start_time <= m.time * 1000 <= r.info.end_time),
            default=0.0,
        )
        for r in trials(root, experiment)
    ]


def training_seconds(root, experiment: str) -> list[float]:
    """Each trial's training loop, from its train/epoch_time history."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    children = trials(root, experiment)
    return [
        sum(m.value for m in client.get_metric_history(r.info.run_id, "train/epoch_time"))
        for r in children
    ]


def sweep(
    root, count: int, epochs: int, launcher: list[str], name: str, data: tuple[str, ...] = ()
) -> tuple[float, list[float], float, list[float]]:
    """(wall, each trial's training seconds, peak MiB of the process tree, each trial's peak)
    of one sweep."""
    rates = ",".join(f"{(i + 1) * 1e-3:g}" for i in range(count))
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
        *data,
    ]
    wall, _, samples = run_sampled(args, root)
    peak = max(m.tree for m in samples)
    return wall, training_seconds(root, name), peak, trial_peaks(root, name, samples)


def main(
    trials: int, epochs: int, launchers: tuple[str, ...] = tuple(LAUNCHERS), warm: bool = True
) -> dict[str, tuple]:
    """The fixed-cost table; each launcher's (1-trial, N-trial) sweep results."""
    rows, results = [], {}
    for name in launchers:
        root = scratch()
        if warm:  # create the store first: its one-time creation is no sweep's cost
            run([str(ROOT / "train.py"), "trainer.max_epochs=1", "print_config=false"], root)
        small = sweep(root, 1, epochs, LAUNCHERS[name], "small")
        large = sweep(root, trials, epochs, LAUNCHERS[name], "large")
        results[name] = (small, large)
        (small_wall, small_trains, small_peak, _), (wall, trains, peak, peaks) = small, large
        small_train, train = sum(small_trains), sum(trains)
        per_trial = ((wall - small_wall) - (train - small_train)) / (trials - 1)
        wall_per_trial = (wall - small_wall) / (trials - 1)
        rows.append(
            {
                "launcher": name,
                "trials": trials,
                "sweep wall s": wall,
                "sum of training s": train,
                "fixed cost per trial s": per_trial,
                # Work that overlaps a trial's training (the writer finishing the previous
                # trial) slows that training on 2 cores and would hide in the line above:
                # the wall per added trial less the fastest trial's training bounds it.
                "wall per added trial s": wall_per_trial,
                "fixed cost, upper bound s": wall_per_trial - min(trains),
                "one-time cost s": small_wall - small_train - per_trial,
                "1-trial peak MiB": small_peak,
                f"{trials}-trial peak MiB": peak,
                "each trial's peak MiB": " ".join(f"{p:.0f}" for p in peaks),
            }
        )
    report(
        "sweep",
        f"{trials}-trial sweeps of {epochs}-epoch digits runs",
        rows,
        [
            "fixed cost per trial: (wall - training) growth from a 1-trial to the N-trial sweep, per added trial",
            "upper bound: wall growth per added trial less the fastest trial's training (what "
            "a trial's training lost to work beside it counts as fixed cost here)",
            "with joblib two trials train at once, so their training seconds overlap in the wall",
            "peak: the resident memory of the whole process tree (controller, writers, "
            "launcher workers), sampled every 50 ms",
        ],
    )
    return results


def memory(count: int, size: int, repeats: int = 3) -> None:
    """A COUNT-trial sweep in one process on SIZE generated images beside single runs."""
    from benchmarks.overhead import generated_mnist

    root = scratch()
    generated_mnist(root / "data", size)
    data = ("data=mnist", f"paths.data_dir={root / 'data'}", "model=mlp", "data.batch_size=64")
    singles = [sweep(root, 1, 1, [], f"single{i}", data) for i in range(repeats)]
    large = sweep(root, count, 1, [], "memory", data)
    alone = [  # `python train.py`, no -m: no sweep controller
        run_sampled([str(ROOT / "train.py"), "trainer.max_epochs=1", *data], root)[2]
        for _ in range(repeats)
    ]
    memory_report(
        f"{size} generated 28x28 images, MLP",
        singles,
        large,
        statistics.median(max(m.tree for m in samples) for samples in alone),
    )


def memory_report(
    data: str, singles: list[tuple], large: tuple, alone: float = float("nan")
) -> None:
    """Each trial's peak in one process beside the peak of one trial (1-trial sweeps) and of
    the same run without -m (`alone`)."""
    wall, _, peak, peaks = large
    single_peak = statistics.median(s[2] for s in singles)
    report(
        "sweep_memory",
        f"memory of a {len(peaks)}-trial sweep in one process, {data}",
        [
            {
                "single run peak MiB": single_peak,
                f"{len(peaks)}-trial sweep peak MiB": peak,
                "sweep / single": peak / single_peak,
                "run without -m peak MiB": alone,
                "sweep / run without -m": peak / alone,
                "median trial / single": statistics.median(peaks) / single_peak,
                "trial 2..N growth MiB": max(peaks[1:]) - peaks[1],
                "each trial's peak MiB": " ".join(f"{p:.0f}" for p in peaks),
                "sweep wall s": wall,
                "single wall s": statistics.median(s[0] for s in singles),
            }
        ],
        [
            "peak: the resident memory of the whole process tree (controller and trial, MLflow "
            f"writer), sampled every 50 ms; a trial's: while its run was open; single: median "
            f"of {len(singles)} one-trial sweeps"
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", type=int, default=60000)
    parser.add_argument(
        "--tiny", action="store_true", help="2 trials of 1 epoch, basic launcher, digits only"
    )
    options = parser.parse_args()
    if options.tiny:  # the memory table from the same digits sweeps
        small, large = main(2, 1, ("basic",), False)["basic"]
        memory_report("digits", [small], large)
    else:
        main(options.trials, options.epochs)
        memory(options.trials, options.size)
