"""`python -m tunelab.compare RUN_ID RUN_ID ...`: what differs between runs, and whether the
difference is more than seed noise (tunelab.analysis.comparison). The runs may also be a sweep's trials
(`--sweep PARENT_RUN_ID`) or an experiment's training runs (`--experiment NAME`). The report
is printed and logged to a new comparison run beside the first run."""

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from tunelab.errors import UserError


def chosen_runs(client: Any, options: argparse.Namespace) -> list[str]:
    """The run ids named, or a sweep's finished trials, or an experiment's finished training
    runs (not sweep parents, evaluations, exports or comparisons), oldest first."""
    if options.runs:
        return list(options.runs)
    if options.sweep:
        experiment = client.get_run(options.sweep).info.experiment_id
        filter_string = f"tags.mlflow.parentRunId = '{options.sweep}'"
    else:
        found = client.get_experiment_by_name(options.experiment)
        if found is None:
            raise UserError(
                f"compare: no experiment {options.experiment!r} in {client.tracking_uri}"
            )
        experiment, filter_string = found.experiment_id, ""
    runs = client.search_runs(
        [experiment], filter_string, order_by=["attributes.start_time ASC"], max_results=500
    )
    return [
        r.info.run_id
        for r in runs
        if r.info.status == "FINISHED"
        and r.data.tags.get("tunelab.job", "train") == "train"
        and "objective" in r.data.metrics
    ]


def log_comparison(client: Any, runs: list[Any], markdown: str, figure: Any) -> str:
    """A new run beside the first run holding the report and the curves; its id."""
    from tunelab.tracking.plots import save_figure

    experiment = client.get_run(runs[0].run_id).info.experiment_id
    tags = {"tunelab.job": "compare", "compare.sources": ",".join(r.run_id for r in runs)}
    run = client.create_run(experiment, run_name=f"compare {len(runs)} runs", tags=tags)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "comparison.md").write_text(markdown)
        save_figure(figure, Path(folder) / "curves.png")
        client.log_artifacts(run.info.run_id, folder)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tunelab.compare", description=__doc__)
    parser.add_argument("runs", nargs="*", help="run ids (the first is the reference)")
    parser.add_argument("--sweep", help="a sweep's parent run id: compare its trials")
    parser.add_argument("--experiment", help="an experiment's name: compare its training runs")
    parser.add_argument(
        "--uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"),
        help="the MLflow store (default: MLFLOW_TRACKING_URI, or ./mlflow.db)",
    )
    options = parser.parse_args(argv)
    if bool(options.runs) + bool(options.sweep) + bool(options.experiment) != 1:
        parser.error("name run ids, or --sweep PARENT_RUN_ID, or --experiment NAME")
    from mlflow import MlflowClient

    from tunelab.analysis.comparison import curves_figure, read_runs, report

    try:
        client = MlflowClient(options.uri)
        runs = read_runs(client, chosen_runs(client, options))
        markdown = report(runs)
    except UserError as error:
        print(f"tunelab: {error}", file=sys.stderr)
        return 2
    print(markdown)
    run_id = log_comparison(client, runs, markdown, curves_figure(client, runs))
    print(f"comparison run: {run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
