"""The time `explain=true` adds to an evaluation: the default CNN on digits (integrated
gradients and saliency maps) and `experiment=diabetes_mlp` (permutation importance over 5
shuffles of each column, attributions of 10 test rows); each whole `python eval.py run_id=ID`
command with and without it, alternating, medians.

    python -m benchmarks.explain              # the closing note's figures (3 repeats)
    python -m benchmarks.explain --tiny       # the tests' smoke run: the MLP (1 epoch) evaluated
                                              # once with explain=true, no plain evaluation
"""

import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, repeats_option, report, run, run_id_of, scratch

QUIET = ["print_config=false", "callbacks.progress_bar=null"]
MODELS = {"default CNN, digits": [], "experiment=diabetes_mlp": ["experiment=diabetes_mlp"]}
VARIANTS = {"plain": [], "explain": ["explain=true"]}


def trained(root: Path, job: list[str], budget: list[str]) -> str:
    _, out = run([str(ROOT / "train.py"), *job, *QUIET, *budget], root)
    return run_id_of(out)


def timed(root: Path, run_id: str, repeats: int, variants: dict) -> dict[str, float]:
    """Median wall seconds of the evaluation without and with explain=true, alternating."""
    walls: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, extra in variants.items():
            walls[name].append(run([str(ROOT / "eval.py"), f"run_id={run_id}", *extra], root)[0])
    return {name: statistics.median(values) for name, values in walls.items()}


def main() -> None:
    repeats = repeats_option(__doc__, 3)
    tiny = repeats == 1 and "--tiny" in sys.argv
    root = scratch()
    rows = []
    # --tiny: the diabetes MLP only (the cheaper to train and explain), and only explain=true,
    # which runs all of the plain evaluation too (eval_s and added_s are then nan)
    variants = {"explain": VARIANTS["explain"]} if tiny else VARIANTS
    for label, job in list(MODELS.items())[-1 if tiny else 0 :]:
        run_id = trained(root, job, ["trainer.max_epochs=1"] if tiny else [])
        walls = {"plain": float("nan")} | timed(root, run_id, repeats, variants)
        rows.append(
            {
                "model": label,
                "eval_s": walls["plain"],
                "eval_explain_s": walls["explain"],
                "added_s": walls["explain"] - walls["plain"],
            }
        )
    notes = [f"medians of {repeats} alternating runs of the whole eval.py command"]
    report("explain", "the time explain=true adds to an evaluation", rows, notes)


if __name__ == "__main__":
    main()
