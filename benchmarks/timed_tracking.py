"""Runs train.py with tunelab's tracking calls timed; prints the seconds the run waited on them.

python benchmarks/timed_tracking.py [train.py overrides]   (used by benchmarks.tracking)

Counts, in the training process: starting the writer (tracking.writer=inline: importing MLflow
and opening the store), every TrackedRun call and the waits for its answers. Also prints the
CPU time of the side processes (the MLflow writer; git), spent beside the training.
"""

import atexit
import functools
import json
import resource
import runpy
import sys
import time
from pathlib import Path

import tunelab.tracking.run as tracked

spent = {"seconds": 0.0, "calls": 0}
depth = [0]


def timed(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if depth[0]:  # a timed call inside another: count the outer call only
            return function(*args, **kwargs)
        depth[0] += 1
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            depth[0] -= 1
            spent["seconds"] += time.perf_counter() - start
            spent["calls"] += 1

    return wrapper


for name in (
    "__init__",
    "wait_started",
    "set_tags",
    "log_metrics",
    "log_artifact",
    "log_dict",
    "flush",
    "end",
):
    setattr(tracked.TrackedRun, name, timed(getattr(tracked.TrackedRun, name)))
tracked.open_writer = timed(tracked.open_writer)


def report() -> None:
    """At exit (train.py ends with os._exit after the exit handlers): the writer has exited."""
    spent["wall"] = time.perf_counter() - start
    for writer in tracked._processes.values():
        writer.close()
        writer.process.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent["side_cpu"] = children.ru_utime + children.ru_stime
    print("TRACKING_TIME " + json.dumps(spent), flush=True)


atexit.register(report)
start = time.perf_counter()
sys.argv = [str(Path(__file__).resolve().parents[1] / "train.py"), *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
