"""Beyond one process, on digits: (1) the Optuna sweeper's refilling slots against batches, a
study with pruning and two workers; (2) one 4-trial sweep on each launcher.

python -m benchmarks.scale_out [--trials 12] [--epochs 30] [--tiny]

Worker time idle: the share of the two slots' time (first trial's start to last trial's end)
in which no trial's run was open, from the runs' start and end times in MLflow.
"""

import argparse
import statistics
from pathlib import Path

from benchmarks.common import ROOT, report, run, scratch

STUDY = [
    *("hydra/sweeper=optuna", "hydra/sweeper/pruner=median", "callbacks.early_stopping=null"),
    *("hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2"),
    "optimizer.lr=tag(log, interval(1e-5, 1e-1))",
]
GRID = ["optimizer.lr=1e-3,2e-3,3e-3,4e-3", "trainer.max_epochs=3"]
TINY_GRID = ["optimizer.lr=1e-3", "trainer.max_epochs=1"]  # a sweep of one job
LAUNCHERS = {
    "basic (one process)": [],
    "joblib, n_jobs=2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local"],
    "ray (local head, 2 CPUs)": ["hydra/launcher=ray", "hydra.launcher.num_cpus=1"],
}
QUIET = ["print_config=false", "callbacks.progress_bar=null"]


def trial_runs(root: Path) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("tunelab")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def slot_figures(root: Path, slots: int) -> dict:
    trials = trial_runs(root)
    start = min(t.info.start_time for t in trials)
    end = max(t.info.end_time for t in trials)
    busy = sum(t.info.end_time - t.info.start_time for t in trials)
    return {
        "trials": len(trials),
        "pruned": sum(t.data.tags.get("trial.state") == "pruned" for t in trials),
        "trials span s": (end - start) / 1000,
        "worker time idle": 1 - busy / (slots * (end - start)),
        "mean trial s": statistics.mean(t.info.end_time - t.info.start_time for t in trials) / 1000,
    }


MODES = {"batches (before)": "false", "refilling slots (after)": "true"}


def refill_rows(
    trials: int, epochs: int, seeds: list[int], modes: dict[str, str], workers: int = 2
) -> list[dict]:
    """Both modes on the same studies: each seed is one sequence of asked trials. workers=1
    (--tiny) runs one slot in the sweep's own process: no worker processes to start (two
    slots must be two processes: in-process trials share Hydra's state and the folder)."""
    rows = []
    for seed in seeds:
        for mode, refill in modes.items():
            root = scratch()
            args = [str(ROOT / "train.py"), "-m", *QUIET, *STUDY, f"trainer.max_epochs={epochs}"]
            args += [f"hydra.launcher.n_jobs={workers}", f"hydra.sweeper.n_jobs={workers}"]
            args += [f"hydra.sweeper.n_trials={trials}", f"hydra.sweeper.refill={refill}"]
            wall, _ = run([*args, f"hydra.sweeper.sampler.seed={seed}"], root)
            rows.append(
                {"seed": seed, "sweeper": mode, "wall s": wall, **slot_figures(root, workers)}
            )
    return rows


def medians(rows: list[dict]) -> list[str]:
    notes = []
    for mode in MODES:
        mine = [r for r in rows if r["sweeper"] == mode]
        if not mine:
            continue
        wall = statistics.median(r["wall s"] for r in mine)
        idle = statistics.median(r["worker time idle"] for r in mine)
        notes.append(f"median over seeds, {mode}: wall {wall:.1f} s, worker time idle {idle:.1%}")
    return notes


def launcher_rows(names: list[str], grid: list[str]) -> list[dict]:
    from scripts.services import free_port, start_ray_head, stop_ray

    rows = []
    for name in names:
        extra = list(LAUNCHERS[name])
        if name.startswith("ray"):
            extra.append(f"hydra.launcher.address={start_ray_head(free_port(), cpus=2)}")
        root = scratch()
        try:
            wall, _ = run([str(ROOT / "train.py"), "-m", *QUIET, *grid, *extra], root)
        finally:
            if name.startswith("ray"):
                stop_ray()
        figures = slot_figures(root, 1)
        rows.append(
            {"launcher": name, "wall s": wall, "trials": figures["trials"]}
            | {"mean trial s": figures["mean trial s"], "trials span s": figures["trials span s"]}
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--only", choices=("refill", "launchers"), help="one of the two parts")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="TPE seeds")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="1 trial of 1 epoch in one joblib process; the basic launcher, 1 job",
    )
    options = parser.parse_args()
    trials, epochs = (1, 1) if options.tiny else (options.trials, options.epochs)
    seeds = options.seeds[:1] if options.tiny else options.seeds
    if options.only != "launchers":
        modes = dict(list(MODES.items())[1:]) if options.tiny else MODES
        rows = refill_rows(trials, epochs, seeds, modes, workers=1 if options.tiny else 2)
        report(
            "scale_out",
            f"Optuna study, {trials} trials, TPE + median pruning, {1 if options.tiny else 2} "
            "workers (joblib), "
            f"up to {epochs} epochs of the default CNN",
            rows,
            [*medians(rows), f"python -m benchmarks.scale_out --trials {trials} --epochs {epochs}"],
        )
    if options.only != "refill":
        names = list(LAUNCHERS)[:1] if options.tiny else list(LAUNCHERS)
        grid = TINY_GRID if options.tiny else GRID
        report(
            "launchers",
            f"A grid sweep ({', '.join(grid)}, the default CNN) on each launcher",
            launcher_rows(names, grid),
        )


if __name__ == "__main__":
    main()
