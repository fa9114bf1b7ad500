"""Sweep parents whose controlling process died without ending them (kill -9, a lost node).

Each trial's writer ends its own run KILLED when its training process dies; a sweep's parent is
written by the controller itself, so nothing is left to end it. The next sweep on the store ends
such parents (this host's, when their process is gone), and so does the one-line command:

    python -m tunelab.sweeps.stale [--uri URI]
"""

import argparse
import os

from mlflow import MlflowClient

from tunelab.cli.runtime import process_gone

STALE = "the sweep's process ended without closing its run (killed?)"


def end_stale_sweeps(client: MlflowClient, experiment_ids: list[str]) -> list[str]:
    """End KILLED the RUNNING sweep parents whose process is gone; their run ids."""
    running = client.search_runs(
        experiment_ids, filter_string="attributes.status = 'RUNNING' and tags.`sweep.dir` != ''"
    )
    ended = []
    for run in running:
        if process_gone(run.data.tags.get("process", "")):
            client.set_tag(run.info.run_id, "error", STALE)
            client.set_terminated(run.info.run_id, "KILLED")
            ended.append(run.info.run_id)
    return ended


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    default = os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    parser.add_argument("--uri", default=default, help=f"the store (default: {default})")
    uri = parser.parse_args().uri
    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    ended = end_stale_sweeps(client, experiments)
    print(
        f"ended {len(ended)} stale sweep parent run(s) KILLED"
        + (f": {', '.join(ended)}" if ended else "")
    )


if __name__ == "__main__":
    main()
