"""What a person reads: the console lines of a 6-trial Optuna search, a single run, eval.py and
export.py on digits, as a pipe or a log file sees them (not a terminal), stdout and stderr
together.

python -m benchmarks.console [--tiny] [--code CHECKOUT]

--code runs another checkout's entry points and package (its src/): the before/after of a
change. --tiny: a 1-trial search and a single run of 1 epoch, and no export.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ROOT, report, run_id_of, scratch

# The how-to's own search, on a smaller budget (issue 31's command).
SEARCH = ["-m", "hparams_search=digits_tpe", "trainer.max_epochs=4"]


def lines_of(code: Path, script: str, args: list[str], root: Path) -> list[str]:
    """The console lines of `python CODE/SCRIPT ARGS` run in `root` (its store and outputs)."""
    env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONPATH": str(code / "src")}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [sys.executable, str(code / script), *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=True,
    )
    return done.stdout.splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="1 epoch per run, 1 trial, no export")
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="a checkout to run (default: this one)"
    )
    options = parser.parse_args()
    code, root = options.code.resolve(), scratch()
    trials = 1 if options.tiny else 6
    search = [*SEARCH, f"hydra.sweeper.n_trials={trials}"]
    if options.tiny:
        search = [*search, "trainer.max_epochs=1"]
    jobs = {f"{trials}-trial Optuna search": lines_of(code, "train.py", search, root)}
    epochs = "trainer.max_epochs=1" if options.tiny else "trainer.max_epochs=4"
    jobs["single run"] = single = lines_of(code, "train.py", [epochs], root)
    trained = f"run_id={run_id_of(chr(10).join(single))}"  # the lines, as printed
    jobs["eval.py"] = lines_of(code, "eval.py", [trained], root)
    if not options.tiny:
        jobs["export.py"] = lines_of(code, "export.py", [trained], root)
    rows = [
        {
            "command": name,
            "lines": len(lines),
            "config tree": sum(
                line == "config" or line.startswith(("├── ", "└── ", "│   ")) for line in lines
            ),
            "Lightning info": sum(
                line.startswith(("GPU available", "TPU available", "`Trainer(limit_"))
                for line in lines
            ),
        }
        for name, lines in jobs.items()
    ]
    report(
        "console" if code == ROOT else "console_other_code",
        f"Console lines (not a terminal) of {code}",
        rows,
        [
            "config tree: the lines of the printed config; Lightning info: its device and "
            "limit_*_batches lines",
            f"python -m benchmarks.console --code {options.code}",
        ],
    )


if __name__ == "__main__":
    main()
