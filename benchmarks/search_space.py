"""Model selection against a flat search, and a warm-started study against a cold one, on digits.

python -m benchmarks.search_space [--tiny]

1. hparams_search=digits_models (each network, optimizer and schedule with its own knobs,
   conf/search_space) against hparams_search=digits_tpe (the flat space: the default CNN,
   optimizer and schedule choices, learning rate, decay, dropout, batch), the same number of
   trials, three sampler seeds: the best trial's test accuracy and the search's wall time.
2. digits_tpe cold, and warm-started from another digits_tpe search's runs in the store (a
   different sampler seed): the best objective among the study's own trials after 5, 10 and 20.
"""

import argparse
import statistics

from benchmarks.common import ROOT, report, run, scratch


def search(root, name: str, experiment: str, trials: int, seed: int, more: list[str]) -> float:
    """Run one search in its own experiment; its wall seconds."""
    args = [
        str(ROOT / "train.py"),
        "-m",
        f"hparams_search={name}",
        f"hydra.sweeper.n_trials={trials}",
        f"hydra.sweeper.sampler.seed={seed}",
        f"tracking.experiment={experiment}",
        "promote_to=null",
        *more,
    ]
    wall, _ = run(args, root)
    return wall


def children(client, experiment: str) -> tuple[object, list]:
    runs = client.search_runs(
        [client.get_experiment_by_name(experiment).experiment_id], max_results=1000
    )
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    trials = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parent, sorted(trials, key=lambda r: int(r.data.tags.get("optuna.trial", 0)))


def best_test_acc(client, experiment: str) -> float:
    """The test accuracy of the trial the sweep picked (a regression's: its test RMSE)."""
    parent, _ = children(client, experiment)
    metrics = client.get_run(parent.data.params["best.run_id"]).data.metrics
    return metrics.get("test/acc", metrics.get("test/rmse", float("nan")))


def best_after(client, experiment: str, counts: list[int]) -> list[float]:
    """The best objective among the study's first N own trials (finished ones), for each N."""
    _, trials = children(client, experiment)
    better = min if trials and trials[0].data.params.get("objective.mode") == "min" else max
    values = [
        t.data.metrics.get("objective", float("nan"))
        if t.data.tags.get("trial.state") == "finished"
        else float("nan")
        for t in trials
    ]
    return [better((v for v in values[:n] if v == v), default=float("nan")) for n in counts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="1 trial of 1 epoch, one seed")
    parser.add_argument("--warm-only", action="store_true", help="the warm and cold studies only")
    parser.add_argument("--warm-search", default="digits_tpe", help="the search warm and cold run")
    parser.add_argument("--warm-args", nargs="*", default=[], help="its overrides (experiment=...)")
    options = parser.parse_args()
    from mlflow import MlflowClient

    root = scratch()
    trials, seeds = (1, [1]) if options.tiny else (30, [1, 2, 3])
    epochs = ["trainer.max_epochs=1"] if options.tiny else []
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    rows = []
    # --tiny (the suite's smoke run): one search of each kind, the warm one from the first's runs
    searches = ("digits_models",) if options.tiny else ("digits_models", "digits_tpe")
    for name in () if options.warm_only else searches:
        accuracy, walls = [], []
        for seed in seeds:
            experiment = f"{name}_{seed}"
            walls.append(search(root, name, experiment, trials, seed, epochs))
            accuracy.append(best_test_acc(client, experiment))
        rows.append(
            {
                "search": f"{name}, {trials} trials",
                "best trial test acc|rmse": statistics.fmean(accuracy),
                "per seed": " ".join(f"{a:.4f}" for a in accuracy),
                "wall s (mean)": statistics.fmean(walls),
            }
        )
    counts = [1] if options.tiny else [5, 10, 20]
    budget = counts[-1]
    source = "digits_models_1" if options.tiny else "source"
    name, more = options.warm_search, [*epochs, *options.warm_args]
    if not options.tiny:
        search(root, name, "source", budget, 7, more)  # the runs a warm start finds
        search(root, name, "cold", budget, 1, more)
    search(root, name, "warm", budget, 1, [*more, f"hydra.sweeper.warm_start={source}"])
    for name in ("warm",) if options.tiny else ("cold", "warm"):
        best = best_after(client, name, counts)
        rows.append(
            {
                "search": f"{options.warm_search} {name}, {budget} trials",
                "best trial test acc|rmse": best_test_acc(client, name),
                "per seed": "best objective after "
                + ", ".join(f"{n}: {b:.4f}" for n, b in zip(counts, best, strict=True)),
                "wall s (mean)": float("nan"),
            }
        )
    report(
        f"search_space_warm_{options.warm_search}" if options.warm_only else "search_space",
        "Model selection against a flat search; a warm start against a cold one",
        rows,
        [
            "best trial test acc|rmse: the test accuracy (a regression's RMSE) of the trial the "
            "sweep picked by its objective; per seed: the mean's values, or the best objective "
            "among the study's own first N trials",
            f"warm: started from another {options.warm_search} search's runs, finished and pruned "
            "(sampler seed 7)",
            "python -m benchmarks.search_space",
        ],
    )


if __name__ == "__main__":
    main()
