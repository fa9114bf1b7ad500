"""Shared by the benchmark scripts: run commands, time them, print and save tables."""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def machine() -> str:
    name = gpu_name()
    gpu = f", {name}" if name else ""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores{gpu}, Python {platform.python_version()}"


def gpu_name() -> str:
    """The first NVIDIA GPU's name, "" when there is none. Asked of nvidia-smi, not torch: a
    script that only starts jobs would otherwise import torch (2 s of CPU) to name its machine."""
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (
        listed.stdout.strip().splitlines()[0]
        if listed.returncode == 0 and listed.stdout.strip()
        else ""
    )


def run(
    args: list[str], root: Path, env: dict | None = None, check: bool = True
) -> tuple[float, str]:
    """(wall seconds, stdout) of `python ARGS` with outputs and the MLflow store under root."""
    wall, stdout, _ = run_sampled(args, root, env, check)
    return wall, stdout


class Memory(NamedTuple):
    """Resident memory (MiB) at one moment: the whole process tree, and the process started
    (the training process; the rest of the tree is the MLflow writer and launcher workers)."""

    time: float  # unix seconds
    tree: float
    process: float

    @property
    def others(self) -> float:
        return self.tree - self.process


def run_sampled(
    args: list[str], root: Path, env: dict | None = None, check: bool = True
) -> tuple[float, str, list[Memory]]:
    """run, and the resident memory of its process tree every 50 ms."""
    import threading

    import psutil

    full_env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONWARNINGS": "ignore", **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, *args],
        cwd=root,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples: list[Memory] = []

    def sample() -> None:
        top = psutil.Process(process.pid)
        while process.poll() is None:
            samples.append(Memory(time.time(), *tree_rss_mib(top)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if check and process.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{stdout[-2000:]}\n{stderr[-3000:]}")
    return wall, stdout, samples


def tree_rss_mib(process) -> tuple[float, float]:
    """Resident memory (MiB) of a process with all its descendants, and of the process alone
    (0 for any that ended meanwhile)."""
    import contextlib

    import psutil

    total = own = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    for member in members:
        with contextlib.suppress(psutil.Error):  # it ended between the listing and the read
            rss = member.memory_info().rss
            total += rss
            own += rss if member is process else 0
    return total / 2**20, own / 2**20


def run_id_of(stdout: str) -> str:
    """The id of the (last) run a tunelab command printed ("MLflow run: ID")."""
    return stdout.split("MLflow run: ")[-1].split()[0]


def median_wall(args: list[str], repeats: int, root: Path, check: bool = True) -> float:
    return statistics.median(run(args, root, check=check)[0] for _ in range(repeats))


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="tunelab-bench-"))


def report(name: str, title: str, rows: list[dict], notes: list[str] = ()) -> None:
    """Print the table and save it (with the machine) as benchmarks/NAME.json."""
    columns = list(rows[0]) if rows else []

    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    widths = [max(len(c), *(len(cell(r[c])) for r in rows)) for c in columns]
    print(f"\n{title}  ({machine()})")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))
    for note in notes:
        print(note)
    # BENCH_OUT: somewhere else than beside the scripts (the tests' tiny runs use it).
    out = Path(os.environ.get("BENCH_OUT", Path(__file__).parent)) / f"{name}.json"
    out.write_text(
        json.dumps(
            {"title": title, "machine": machine(), "rows": rows, "notes": list(notes)}, indent=2
        )
        + "\n"  # a text file ends with a newline (the end-of-file pre-commit hook checks it)
    )


def repeats_option(description: str, default: int) -> int:
    """--repeats N (default `default`), or --tiny for one run each (the tests' smoke runs)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=default)
    parser.add_argument("--tiny", action="store_true", help="one run each")
    options = parser.parse_args()
    return 1 if options.tiny else options.repeats
