"""tunelab's train.py against a plain PyTorch loop: training-loop and whole-process time.

python -m benchmarks.overhead [--epochs 2] [--size 60000] [--tiny]
"""

import argparse
import json

from benchmarks.common import ROOT, report, run, scratch


def generated_mnist(root, size: int) -> None:
    """A generated 28x28 ten-class set in MNIST's IDX format (size training + size/6 test images)."""
    from tests.data_factory import write_idx

    write_idx(root / "MNIST" / "raw", n_train=size, n_test=size // 6)


def tunelab_run(
    root, data_args: list[str], epochs: int, batch_size: int, extra: list[str]
) -> tuple[float, float]:
    """(whole-process wall, training-loop seconds) of one default tunelab run."""
    from mlflow import MlflowClient

    args = [
        str(ROOT / "train.py"),
        *data_args,
        f"trainer.max_epochs={epochs}",
        f"data.batch_size={batch_size}",
        "callbacks.early_stopping=null",
        "print_config=false",
        *extra,
    ]
    wall, _ = run(args, root)
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    latest = client.search_runs(
        [client.get_experiment_by_name("tunelab").experiment_id], max_results=1
    )[0]
    loop = sum(m.value for m in client.get_metric_history(latest.info.run_id, "train/epoch_time"))
    return wall, loop


def plain_run(root, data: str, epochs: int, batch_size: int) -> tuple[float, float]:
    wall, out = run(
        [
            str(ROOT / "benchmarks" / "plain_loop.py"),
            "--data",
            data,
            "--epochs",
            str(epochs),
            "--batch-size",
            str(batch_size),
        ],
        root,
    )
    return wall, json.loads(out.strip().splitlines()[-1])["loop_s"]


def measure(
    name: str,
    root,
    plain_data: str,
    data_args: list[str],
    epochs: int,
    batch: int,
    extra=(),
    warm=True,
) -> dict:
    if warm:
        tunelab_run(
            root, data_args, 1, batch, list(extra)
        )  # creates the store: one-time cost, not counted
    t_wall, t_loop = tunelab_run(root, data_args, epochs, batch, list(extra))
    p_wall, p_loop = plain_run(root, plain_data, epochs, batch)
    return {
        "data": name,
        "epochs": epochs,
        "batch": batch,
        "plain loop s": p_loop,
        "tunelab loop s": t_loop,
        "loop ratio": t_loop / p_loop,
        "plain wall s": p_wall,
        "tunelab wall s": t_wall,
        "wall ratio": t_wall / p_wall,
    }


def main(epochs: int, size: int, extra: list[str], tiny: bool = False) -> None:
    root = scratch()
    rows = [measure("digits", root, "digits", ["data=digits"], epochs, 64, extra, warm=not tiny)]
    if not tiny:
        generated_mnist(root / "data", size)
        data_args = ["data=mnist", f"paths.data_dir={root / 'data'}"]
        rows.append(
            measure(
                f"generated {size} 28x28", root, str(root / "data"), data_args, epochs, 128, extra
            )
        )
    report(
        "overhead",
        "train.py (tracking on) against a plain PyTorch loop",
        rows,
        ["loop: the epochs (training and validation); wall: the whole process, imports included"],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--size", type=int, default=60000)
    parser.add_argument(
        "--tiny", action="store_true", help="1 epoch on digits only: checks the script runs"
    )
    parser.add_argument("extra", nargs="*", help="more train.py overrides, e.g. trainer=gpu")
    options = parser.parse_args()
    main(
        *((1, 600) if options.tiny else (options.epochs, options.size)), options.extra, options.tiny
    )
