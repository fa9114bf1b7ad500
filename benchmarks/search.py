"""TPE with pruning against TPE alone, random search and a grid: same trial budget on digits.

python -m benchmarks.search [--trials 12] [--epochs 15]
"""

import argparse

import yaml

from benchmarks.common import ROOT, report, run, scratch

STRATEGIES = {
    "tpe + median pruning": [],
    "tpe, no pruning": ["hydra/sweeper/pruner=none"],
    "random, no pruning": ["hydra/sweeper/sampler=random", "hydra/sweeper/pruner=none"],
}
# The grid searches the two knobs that matter most, over as many points as the budget.
GRID = ["hydra/sweeper/sampler=grid", "hydra/sweeper/pruner=none", "hydra.sweeper.params=null"]


def grid_space(trials: int) -> list[str]:
    lrs = ["1e-4", "3e-4", "1e-3", "3e-3", "1e-2", "3e-2", "1e-1", "3e-1"][: max(1, trials // 3)]
    return ["optimizer=choice(adam,adamw,sgd)", f"optimizer.lr=choice({','.join(lrs)})"]


def study_figures(sweep_dir) -> dict:
    import optuna

    from tunelab.sweeps.pruning import load_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study(sweep_dir)
    trials = study.get_trials(deepcopy=False)
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    return {
        "trials": len(trials),
        "pruned": sum(t.state.name == "PRUNED" for t in trials),
        "best val/acc": results.get("best_value", float("nan")),
        "epochs trained": sum(len(t.intermediate_values) for t in trials),
    }


def main(trials: int, epochs: int, tiny: bool = False) -> None:
    rows = []
    grid = grid_space(trials)
    points = 3 * (grid[1].count(",") + 1)  # three optimizers x the learning rates
    strategies = {**STRATEGIES, f"grid ({points} points)": GRID + grid}
    if tiny:
        strategies = {k: strategies[k] for k in ("tpe + median pruning",)}
    for name, extra in strategies.items():
        root = scratch()
        args = [
            str(ROOT / "train.py"),
            "-m",
            "hparams_search=digits_tpe",
            f"hydra.sweeper.n_trials={trials}",
            f"trainer.max_epochs={epochs}",
            "print_config=false",
            "callbacks.progress_bar=null",
            f"hydra.sweep.dir={root}/sweep",
            *extra,
        ]
        wall, _ = run(args, root)
        rows.append({"strategy": name, **study_figures(root / "sweep"), "wall s": wall})
    base = next((r["epochs trained"] for r in rows if r["strategy"] == "tpe, no pruning"), 0)
    pruned = rows[0]["epochs trained"]
    notes = (
        [f"pruning saved {1 - pruned / base:.0%} of the epochs TPE trained without it"]
        if base
        else []
    )
    report(
        "search",
        f"search strategies, {trials} trials of up to {epochs} epochs on digits",
        rows,
        notes,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument(
        "--tiny", action="store_true", help="1 trial of 1 epoch: checks the script runs"
    )
    options = parser.parse_args()
    main(*((1, 1, True) if options.tiny else (options.trials, options.epochs)))
