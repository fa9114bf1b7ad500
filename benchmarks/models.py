"""From run to model: what logging the MLflow model adds to a default run, eval.py's wall time,
and pyfunc prediction against the raw network.

python -m benchmarks.models [--repeats 5]
"""

import statistics
import time

from benchmarks.common import ROOT, repeats_option, report, run, run_id_of, scratch

QUIET = ["print_config=false", "callbacks.progress_bar=null"]


def training_with_and_without_model(repeats: int, root) -> tuple[list[dict], float, str]:
    """Median wall time of the default `python train.py`, model logging on and off, alternating:
    the rows, the extra seconds, and a run id with a model."""
    times: dict[str, list[float]] = {"true": [], "false": []}
    last = ""
    tiny = repeats == 1  # a smoke run: 1 epoch, model logging on only
    budget = ["trainer.max_epochs=1"] if tiny else []
    for _ in range(repeats):
        for flag in ("true",) if tiny else ("true", "false"):
            args = [str(ROOT / "train.py"), *QUIET, *budget, f"tracking.log_model={flag}"]
            wall, out = run(args, root)
            times[flag].append(wall)
            if flag == "true":
                last = run_id_of(out)
    rows = [
        {
            "what": f"python train.py tracking.log_model={flag}",
            "median s": statistics.median(t),
            "runs": len(t),
        }
        for flag, t in times.items()
        if t
    ]
    extra = statistics.median(times["true"]) - statistics.median(times["false"] or times["true"])
    return rows, extra, last


def predict_per_thousand(root, run_id: str, repeats: int) -> list[dict]:
    """Seconds per 1,000 digits images: the pyfunc model (raw pixels in, DataFrame out)
    against the network alone on prepared tensors."""
    import mlflow
    import torch
    from sklearn.datasets import load_digits

    from tunelab.inference.checkpoint import load_model

    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    (output,) = mlflow.MlflowClient().get_run(run_id).outputs.model_outputs
    model = mlflow.pyfunc.load_model(f"models:/{output.model_id}")
    images = load_digits().images.astype("float32")[:1000, None]
    mlflow.artifacts.download_artifacts(f"models:/{output.model_id}", dst_path=str(root / "m"))
    network = load_model(next((root / "m").glob("artifacts/*.ckpt"))).network
    prepared = torch.from_numpy(images) / 16.0

    def timed(call) -> float:
        call()  # warm-up
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    with torch.no_grad():
        raw = timed(lambda: network(prepared).softmax(-1))
    pyfunc = timed(lambda: model.predict(images))
    return [
        {"what": "pyfunc predict, 1,000 raw digits", "median s": pyfunc, "runs": repeats},
        {"what": "the network alone, 1,000 prepared digits", "median s": raw, "runs": repeats},
    ]


def main(repeats: int) -> None:
    root = scratch()
    training, extra, run_id = training_with_and_without_model(repeats, root)
    # --tiny (the tests' smoke run) leaves eval.py out: tests/test_run_to_model.py runs it
    evaluations = [
        run([str(ROOT / "eval.py"), f"run_id={run_id}"], root)[0]
        for _ in range(repeats if repeats > 1 else 0)
    ]
    rows = [
        *training,
        *(
            [
                {
                    "what": "python eval.py run_id=... (default model)",
                    "median s": statistics.median(evaluations),
                    "runs": repeats,
                }
            ]
            if evaluations
            else []
        ),
        *predict_per_thousand(root, run_id, max(repeats, 5)),
    ]
    report(
        "models",
        "from run to model: model logging, evaluation, prediction",
        rows,
        [
            f"model logging adds {extra:+.3f} s to the default run (median of {repeats} each, alternating)"
        ],
    )


if __name__ == "__main__":
    main(repeats_option(__doc__, default=5))
