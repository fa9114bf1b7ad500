"""Where a `python train.py` process spends its wall time, phase by phase.

python -m benchmarks.timeline [train.py overrides ...]

Runs train.py in this process while a thread samples the main thread's stack every 5 ms, and
prints the seconds each phase took, and the largest resident memory of the process seen in it:
imports (by library), Hydra's composition, reading and preparing the data, fit, test, waiting
for the MLflow writer, the rest. A sample names the
phase of the outermost thing the main thread is inside (an import beats the function that
asked for it); a stretch without samples (C code holding the interpreter) counts for the phase
before it. TIMELINE_OUT=FILE also writes the table as JSON. Only the standard library is
imported before train.py, so the imports are train.py's own.
"""

import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = 0.005
HEAVY = ("torch", "lightning", "torchmetrics", "torchvision", "scipy", "sklearn", "pandas")


def import_phase(names: list[str]) -> str:
    """The phase of a sample taken inside imports (`names`, outermost first)."""
    for name in names:
        top = name.split(".")[0]
        if top in HEAVY:
            return "imports: torch, Lightning and what they pull in"
        if top in ("hydra", "omegaconf"):
            return "imports: Hydra"
    return "imports: tunelab and the rest"


def phase(frame) -> str:
    """The phase the main thread is in, from its stack (innermost `frame`)."""
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()  # outermost first
    importing = [
        f.f_locals.get("name", "")
        for f in frames
        if f.f_code.co_name == "_find_and_load" and "importlib" in f.f_code.co_filename
    ]
    if importing:
        return import_phase(importing)
    for f in frames:
        where, name = f.f_code.co_filename, f.f_code.co_name
        if "lightning/pytorch/trainer/trainer.py" in where and name in ("fit", "test"):
            return name
        if "tunelab/tracking/run.py" in where and name == "_receive":
            return "waiting for the MLflow writer"
        if "/tunelab/data/" in where:
            return "data: read, split, standardise, fingerprint"
    for f in frames:
        if "/hydra/" in f.f_code.co_filename:
            return "Hydra: compose the config, set up the job"
    return "the rest (job bookkeeping, output, exit)"


def resident_mib() -> float:
    """This process's resident memory (Linux's /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Sampler:
    def __init__(self) -> None:
        self.samples: list[tuple[float, str, float]] = []
        self.start = time.perf_counter()
        self.main = threading.main_thread().ident

    def run(self) -> None:
        while True:
            time.sleep(INTERVAL)
            frame = sys._current_frames().get(self.main)
            if frame is not None:
                moment = time.perf_counter() - self.start
                self.samples.append((moment, phase(frame), resident_mib()))

    def table(self) -> dict[str, dict[str, float]]:
        """Per phase: its seconds (each sample's phase holds until the next sample) and the
        largest resident memory seen in it."""
        phases: dict[str, dict[str, float]] = {}
        ends = [t for t, _, _ in self.samples[1:]] + [time.perf_counter() - self.start]
        previous = 0.0
        for (_, name, mib), end in zip(self.samples, ends, strict=True):
            entry = phases.setdefault(name, {"s": 0.0, "peak MiB": 0.0})
            entry["s"] += end - previous
            entry["peak MiB"] = max(entry["peak MiB"], mib)
            previous = end
        return phases


def report(sampler: Sampler) -> None:
    phases = sampler.table()
    total = sum(entry["s"] for entry in phases.values())
    print(f"\ntimeline of train.py {' '.join(sys.argv[1:])}", file=sys.stderr)
    for name, entry in sorted(phases.items(), key=lambda item: -item[1]["s"]):
        seconds, peak = entry["s"], entry["peak MiB"]
        print(f"{seconds:7.2f} s {seconds / total:6.1%} {peak:7.0f} MiB  {name}", file=sys.stderr)
    print(f"{total:7.2f} s  total (after the interpreter started)", file=sys.stderr)
    if out := os.environ.get("TIMELINE_OUT"):
        Path(out).write_text(json.dumps(phases, indent=2) + "\n")


def main() -> None:
    sampler = Sampler()
    threading.Thread(target=sampler.run, daemon=True).start()
    leave = os._exit

    def exit_after_report(code: int) -> None:  # train.py ends with os._exit (no teardown)
        report(sampler)
        leave(code)

    os._exit = exit_after_report
    sys.argv = [str(ROOT / "train.py"), *sys.argv[1:]]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    finally:
        report(sampler)


if __name__ == "__main__":
    main()
