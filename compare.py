"""Compare runs: `python compare.py RUN_ID RUN_ID ...`, `--sweep PARENT_RUN_ID` or `--experiment
NAME`. What differs between them, and whether the difference is more than seed noise
(tunelab.analysis.comparison); the report is printed and logged to a new comparison run beside
the first run."""

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python compare.py", description=__doc__)
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
    # Imported here so that --help and a bad command line never load MLflow.
    from mlflow import MlflowClient

    from tunelab.analysis.comparison import (
        chosen_runs,
        curves_figure,
        log_comparison,
        read_runs,
        report,
    )
    from tunelab.errors import UserError

    try:
        client = MlflowClient(options.uri)
        chosen = chosen_runs(client, options.runs, options.sweep, options.experiment)
        runs = read_runs(client, chosen)
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
