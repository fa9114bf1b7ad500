"""hparams_search=digits_pareto: the Pareto front of validation accuracy against CPU latency,
what measuring the costs adds to a trial, and the front's latencies measured again by
`python export.py` (the same code: the trial's cost/latency_ms is the table's b1_ms_pytorch).

python -m benchmarks.pareto [--trials 30]   (--tiny: 1 trial of 1 epoch, one export, eager costs)
"""

import argparse
import statistics
import time
from pathlib import Path

from benchmarks.common import ROOT, report, run, scratch


def front_rows(root: Path) -> tuple[list[dict], list]:
    """A row per Pareto-optimal trial, most accurate first; and those trials' runs."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("pareto")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    front = [r for r in runs if r.data.tags.get("pareto") == "true"]
    front.sort(key=lambda r: -r.data.metrics["objective"])
    rows = []
    for r in front:
        params, metrics = r.data.params, r.data.metrics
        width = (
            f"hidden {params['model.hidden_dim']} x {params['model.num_layers']}"
            if params["model"] == "mlp"
            else f"channels {params['model.channels']}, hidden {params['model.hidden_dim']}"
        )
        rows.append(
            {
                "trial": int(r.data.tags["sweep.trial"]),
                "model": params["model"],
                "width": width,
                "val_acc": metrics["objective"],
                "test_acc": metrics["test/acc"],
                "params": int(metrics["cost/params"]),
                "size_kib": metrics["cost/size_bytes"] / 1024,
                "latency_ms": metrics["cost/latency_ms"],
            }
        )
    return rows, front


def cost_seconds(
    checkpoint: Path, calls: int = 5, runtimes: tuple[str, ...] = ("pytorch", "onnxruntime")
) -> dict[str, float]:
    """The median seconds measure_cost takes on a digits checkpoint, for each runtime."""
    from omegaconf import OmegaConf

    from tunelab.data.datamodule import build_datamodule
    from tunelab.export.cost import measure_cost
    from tunelab.training.rerun import compose_train

    cfg = compose_train([], str(scratch()))
    datamodule = build_datamodule(cfg.data, cfg.task)
    datamodule.setup("test")
    seconds = {}
    for runtime in runtimes:
        cost = OmegaConf.merge(cfg.cost, {"runtime": runtime})
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            measure_cost(str(checkpoint), datamodule, cost, scratch())
            times.append(time.perf_counter() - start)
        seconds[runtime] = statistics.median(times)
    return seconds


def export_latency(root: Path, run_id: str, more: list[str]) -> dict[str, float]:
    """export.py's batch-1 latencies of a trial's float model (onnx variant)."""
    from mlflow import MlflowClient

    run([str(ROOT / "export.py"), f"run_id={run_id}", "export.variants=[onnx]", *more], root)
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    exports = client.search_runs(
        [client.get_run(run_id).info.experiment_id],
        filter_string=f"tags.`tunelab.source_run` = '{run_id}'",
    )
    metrics = exports[0].data.metrics
    return {k: metrics[f"onnx/b1_ms_{k}"] for k in ("pytorch", "onnxruntime")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--tiny", action="store_true", help="1 trial of 1 epoch, one export")
    options = parser.parse_args()
    root = scratch()
    args = [
        str(ROOT / "train.py"),
        "-m",
        "hparams_search=digits_pareto",
        "tracking.experiment=pareto",
    ]
    trials = 1 if options.tiny else options.trials  # --tiny: one trial, a front of one
    args += [f"hydra.sweeper.n_trials={trials}"] + (
        ["trainer.max_epochs=1"] if options.tiny else []
    )
    wall, _ = run(args, root)
    rows, front = front_rows(root)
    checkpoint = Path(front[0].data.tags["hydra.output_dir"]) / "checkpoints" / "best.ckpt"
    runtimes = ("pytorch",) if options.tiny else ("pytorch", "onnxruntime")
    seconds = cost_seconds(checkpoint, 1 if options.tiny else 5, runtimes)
    notes = [
        f"{trials} trials in {wall:.0f} s; measuring a trial's costs took "
        + " and ".join(f"{s:.3f} s with cost.runtime={r}" for r, s in seconds.items())
    ]
    # --tiny: batch 1 only (the one read), timed 3 times
    tiny_latency = ["latency.batch_sizes=[1]", "latency.calls=3", "latency.warmup=1"]
    for r in front[: 1 if options.tiny else 2]:  # the front's latencies again, by export.py
        again = export_latency(root, r.info.run_id, tiny_latency if options.tiny else [])
        notes.append(
            f"trial #{r.data.tags['sweep.trial']}: cost/latency_ms {r.data.metrics['cost/latency_ms']:.4f}; "
            f"export.py b1_ms_pytorch {again['pytorch']:.4f}, b1_ms_onnxruntime {again['onnxruntime']:.4f}"
        )
    report("pareto", "digits_pareto: the Pareto front (val accuracy max, latency min)", rows, notes)


if __name__ == "__main__":
    main()
