"""Everything MLflow. A job opens its run with open_run: a TrackedRun whose MLflow calls happen
in a side process (writer.py), which hands Lightning its logger (TrackedRun.lightning_logger).
A multirun is one parent run (sweep_callback.py) with a summary (summary.py, plots.py)."""

from tunelab.tracking.run import TrackedRun, TrackingError, open_run

__all__ = ["TrackedRun", "TrackingError", "open_run"]
