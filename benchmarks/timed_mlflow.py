"""Runs train.py with every MlflowClient method timed; prints the seconds spent in MLflow.

python benchmarks/timed_mlflow.py [train.py overrides]   (used by benchmarks.tracking)
"""

import contextlib
import functools
import json
import runpy
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

spent = {"seconds": 0.0, "calls": 0}
depth = [0]


def timed(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if depth[0]:  # a client method calling another: count the outer call only
            return method(*args, **kwargs)
        depth[0] += 1
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            depth[0] -= 1
            spent["seconds"] += time.perf_counter() - start
            spent["calls"] += 1

    return wrapper


for name in dir(MlflowClient):
    if not name.startswith("_") and callable(getattr(MlflowClient, name)):
        setattr(MlflowClient, name, timed(getattr(MlflowClient, name)))
MlflowClient.__init__ = timed(MlflowClient.__init__)

start = time.perf_counter()
sys.argv = [str(Path(__file__).resolve().parents[1] / "train.py"), *sys.argv[1:]]
with contextlib.suppress(SystemExit):  # Hydra exits when the job ends
    runpy.run_path(sys.argv[0], run_name="__main__")
spent["wall"] = time.perf_counter() - start
print("MLFLOW_TIME " + json.dumps(spent))
