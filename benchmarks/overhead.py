"""tunelab's train.py against a plain PyTorch loop: training-loop and whole-process time, and
the peak resident memory of each.

python -m benchmarks.overhead [--epochs 2] [--size 60000] [--cifar 50000] [--tiny]
digits with the default CNN; a generated MNIST-format set of SIZE training images with the MLP
at batch 64 (the setting of the memory issue).
"""

import argparse
import json
import statistics
from collections.abc import Sequence

from benchmarks.common import ROOT, report, run_sampled, scratch


def generated_mnist(root, size: int) -> None:
    """A generated 28x28 ten-class set in MNIST's IDX format (size training + size/6 test images)."""
    from tests.data_factory import write_idx

    write_idx(root / "MNIST" / "raw", n_train=size, n_test=size // 6)


def train_args(
    data_args: list[str], epochs: int, batch_size: int, extra: Sequence[str] = ()
) -> list[str]:
    """train.py's overrides for a timed run: EPOCHS epochs at BATCH_SIZE, no early stop."""
    return [
        *data_args,
        f"trainer.max_epochs={epochs}",
        f"data.batch_size={batch_size}",
        "callbacks.early_stopping=null",
        "print_config=false",
        *extra,
    ]


def tunelab_run(
    root, data_args: list[str], epochs: int, batch_size: int, extra: list[str]
) -> tuple[float, float, float, float, float]:
    """(whole-process wall, training-loop seconds, peak MiB of the process tree, of the
    training process, of the MLflow writer) of one tunelab run."""
    from mlflow import MlflowClient

    args = [str(ROOT / "train.py"), *train_args(data_args, epochs, batch_size, extra)]
    wall, _, samples = run_sampled(args, root)
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    latest = client.search_runs(
        [client.get_experiment_by_name("tunelab").experiment_id], max_results=1
    )[0]
    loop = sum(m.value for m in client.get_metric_history(latest.info.run_id, "train/epoch_time"))
    peaks = [max(getattr(m, part) for m in samples) for part in ("tree", "process", "others")]
    return wall, loop, *peaks


def script_run(
    script: str,
    root,
    data: str,
    epochs: int,
    batch_size: int,
    model: str = "cnn",
    options: tuple[str, ...] = (),
) -> tuple[float, float, float]:
    """(whole-process wall, loop seconds, peak MiB) of benchmarks/SCRIPT (plain_loop.py,
    lightning_loop.py), with more command-line `options`."""
    wall, out, samples = run_sampled(
        [
            str(ROOT / "benchmarks" / script),
            "--data",
            data,
            "--epochs",
            str(epochs),
            "--batch-size",
            str(batch_size),
            "--model",
            model,
            *options,
        ],
        root,
    )
    peak = max(m.tree for m in samples)
    return wall, json.loads(out.strip().splitlines()[-1])["loop_s"], peak


def medians(runs: list[tuple[float, ...]]) -> tuple[float, ...]:
    """The median of each field over repeated runs."""
    return tuple(statistics.median(values) for values in zip(*runs, strict=True))


def measure(
    name: str,
    root,
    plain_data: str,
    data_args: list[str],
    epochs: int,
    batch: int,
    model: str = "cnn",
    extra=(),
    warm=True,
    repeats: int = 1,
    plain_options: tuple[str, ...] = (),
) -> dict:
    """One row: tunelab with `extra` overrides against plain_loop.py with `plain_options`
    (and, on the CPU without extras, the bare Lightning loop)."""
    data_args = [*data_args, f"model={model}"]
    if warm:
        tunelab_run(
            root, data_args, 1, batch, list(extra)
        )  # creates the store: one-time cost, not counted
    tunelab, plain, bare = [], [], []
    for _ in range(repeats):  # alternating, so a drifting machine weighs on all alike
        tunelab.append(tunelab_run(root, data_args, epochs, batch, list(extra)))
        plain.append(
            script_run("plain_loop.py", root, plain_data, epochs, batch, model, plain_options)
        )
        if not extra:  # the bare Lightning loop runs on the CPU only
            bare.append(script_run("lightning_loop.py", root, plain_data, epochs, batch, model))
    (t_wall, t_loop, t_peak, t_process, t_writer) = medians(tunelab)
    (p_wall, p_loop, p_peak) = medians(plain)
    return {
        "data": name,
        "model": model,
        "epochs": epochs,
        "batch": batch,
        "plain loop s": p_loop,
        "bare lightning loop s": medians(bare)[1] if bare else float("nan"),
        "tunelab loop s": t_loop,
        "loop ratio": t_loop / p_loop,
        "plain wall s": p_wall,
        "tunelab wall s": t_wall,
        "wall ratio": t_wall / p_wall,
        "plain peak MiB": p_peak,
        "tunelab peak MiB": t_peak,
        "peak ratio": t_peak / p_peak,
        "tunelab training process peak MiB": t_process,
        "writer peak MiB": t_writer,
    }


def generated_cifar(root, size: int) -> None:
    """A generated CIFAR-10-format set: size training images in 5 batches, size/5 test images."""
    from tests.data_factory import write_cifar10

    write_cifar10(root, per_batch=size // 5, n_test=size // 5)


def main(
    epochs: int,
    size: int,
    extra: list[str],
    tiny: bool = False,
    repeats: int = 3,
    cifar: int = 0,
) -> None:
    root = scratch()
    rows = [
        measure(
            "digits", root, "digits", ["data=digits"], epochs, 64, "cnn", extra, not tiny, repeats
        )
    ]
    if not tiny:
        generated_mnist(root / "data", size)
        data_args = ["data=mnist", f"paths.data_dir={root / 'data'}"]
        rows.append(
            measure(
                f"generated {size} 28x28",
                root,
                str(root / "data"),
                data_args,
                epochs,
                64,
                "mlp",
                extra,
                repeats=repeats,
            )
        )
    if cifar and not tiny:  # the realistic workload: the default CNN on CIFAR-size images
        generated_cifar(root / "cifar", cifar)
        data_args = ["data=cifar10", f"paths.data_dir={root / 'cifar'}", "data.augment=null"]
        rows.append(
            measure(
                f"generated {cifar} 3x32x32",
                root,
                str(root / "cifar"),
                data_args,
                epochs,
                128,
                "cnn",
                extra,
                repeats=repeats,
            )
        )
    report(
        "overhead",
        "train.py (tracking on) against a plain PyTorch loop",
        rows,
        [
            "loop: the epochs (training and validation); wall: the whole process, imports "
            f"included; medians of {repeats} runs each; bare lightning: the plain loop's work "
            "in a LightningModule without metrics, logger, checkpoints or progress bar; "
            "peak: the resident memory of the whole process tree (the MLflow writer "
            "included), sampled every 50 ms; the training process and the writer: each "
            "one's own peak"
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--size", type=int, default=60000)
    parser.add_argument(
        "--tiny", action="store_true", help="1 epoch on digits only: checks the script runs"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument(
        "--cifar",
        type=int,
        default=0,
        help="also the default CNN on this many generated 3x32x32 images",
    )
    parser.add_argument("extra", nargs="*", help="more train.py overrides, e.g. trainer=gpu")
    options = parser.parse_args()
    main(
        *((1, 600) if options.tiny else (options.epochs, options.size)),
        options.extra,
        options.tiny,
        1 if options.tiny else options.repeats,
        options.cifar,
    )
