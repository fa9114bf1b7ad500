"""A Hydra callback for tests: after each job of a multirun, which of its training objects
are still alive once the garbage collector has run (a finished trial must hold nothing), and
whether the process running the trials has imported MLflow (its writer process does that)."""

import gc
import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

WATCHED = {"DataModule", "Classifier", "Trainer", "LabeledData"}


class SurvivorsAfterJob(Callback):
    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        gc.collect()
        alive = sorted(type(o).__name__ for o in gc.get_objects() if type(o).__name__ in WATCHED)
        with self.out.open("a") as file:
            record = {
                "job": config.hydra.job.num,
                "alive": alive,
                "mlflow": "mlflow" in sys.modules,
            }
            file.write(json.dumps(record) + "\n")
