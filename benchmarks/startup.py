"""Median wall time of the commands that train nothing: --help, --cfg job, a bad override.

python -m benchmarks.startup [--repeats 5]
"""

from benchmarks.common import ROOT, median_wall, repeats_option, report, scratch

COMMANDS = {
    "python train.py --help": ["--help"],
    "python train.py --cfg job": ["--cfg", "job"],
    "python train.py model=nope (bad choice)": ["model=nope"],
    "python train.py optimizer.lr=-1 (bad value)": ["optimizer.lr=-1"],
}


def main(repeats: int) -> None:
    root = scratch()
    rows = []
    for name, args in COMMANDS.items():
        seconds = median_wall([str(ROOT / "train.py"), *args], repeats, root, check=False)
        rows.append({"command": name, "median s": seconds, "runs": repeats})
    report("startup", "commands that train nothing", rows)


if __name__ == "__main__":
    main(repeats_option(__doc__, default=5))
