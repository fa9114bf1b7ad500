"""`make bench`: every benchmark with its default budget (about 25 minutes on 2 cores).

python -m benchmarks.run_all [--tiny]
"""

import argparse
import subprocess
import sys

SCRIPTS = [
    "startup",
    "overhead",
    "loop",
    "whole_run",
    "sweep",
    "memory",
    "tracking",
    "data_paths",
    "search",
    "models",
    "export",
    "scale_out",
    "regression",
    "faults",
    "console",
    "search_space",
    "pareto",
    "text",
    "finetune",
    "baselines",
    "explain",
]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true")
    options = parser.parse_args()
    for name in SCRIPTS:
        subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", *(["--tiny"] if options.tiny else [])],
            check=True,
        )
