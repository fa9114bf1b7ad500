"""Runs whose process died without ending them (kill -9, a lost node).

Each trial's writer ends its own run KILLED when its training process dies; a sweep's parent is
written by the controller itself, so nothing is left to end it, and on a lost node nothing ends
either. The next sweep on the store ends such runs KILLED: the runs of sweeps whose process
(on this host) is gone, and any run whose heartbeat stopped (tunelab.tracking.heartbeat), on any
machine. So does the one-line command:

    python -m tunelab.sweeps.stale [--uri URI]
"""

import argparse
import os

from mlflow import MlflowClient

from tunelab.cli.runtime import process_gone

STALE = "the sweep's process ended without closing its run (killed?)"
SILENT = "its process stopped sending heartbeats without ending the run (a lost node?)"


def end_stale_sweeps(client: MlflowClient, experiment_ids: list[str]) -> list[str]:
    """End KILLED the RUNNING runs of sweeps whose process (on this host) is gone, and any
    RUNNING run whose heartbeat stopped; their run ids."""
    from tunelab.tracking.heartbeat import is_dead

    running = client.search_runs(experiment_ids, filter_string="attributes.status = 'RUNNING'")
    ended = []
    for run in running:
        tags = run.data.tags
        if is_dead(run.info.status, tags):
            why = SILENT
        elif tags.get("sweep.dir"):  # a sweep's parent or trial
            why = STALE if process_gone(tags.get("process", "")) else ""
        else:
            why = ""
        if why:
            client.set_tag(run.info.run_id, "error", why)
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
    print(f"ended {len(ended)} stale run(s) KILLED" + (f": {', '.join(ended)}" if ended else ""))


if __name__ == "__main__":
    main()
