"""What each part of tunelab's training loop costs per step, over a bare Lightning loop.

python -m benchmarks.loop [--steps 1500] [--repeats 5] [--tiny]

Whole-loop timings on 2 cores vary by 20-30 % from run to run (benchmarks/overhead.json), more
than the parts measured here. So each part is timed where it shows: a small network (64
inputs, 10 classes, 32 hidden units) on small batches (32), one torch thread, in one process,
every variant run `--repeats` times in turn and the fastest kept. The rows add tunelab's parts
one at a time to a bare LightningModule with the same network and batches: the Learner
(loss, metrics fed a chunk of batches at a time, epoch values), the input standardisation,
each default callback, and the logger that hands metrics to the MLflow writer (here a writer
that pickles each request into /dev/null, as the pipe would). The last column puts each
part's cost per step beside a step of the 60,000-image MLP job (benchmarks/overhead.py).
"""

import argparse
import contextlib
import io
import logging
import os
import pickle
import time
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from benchmarks.common import report, scratch
from tunelab.data.batches import TensorBatches
from tunelab.data.inputs import Normalize
from tunelab.models import build_network
from tunelab.training.pipeline import build_learner
from tunelab.training.rerun import compose_train
from tunelab.training.trainer import build_callbacks

FEATURES, CLASSES, BATCH = 64, 10, 32


class Bare(L.LightningModule):
    """The plain loop's work: forward, cross-entropy, Adam; no metrics."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self.network(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        F.cross_entropy(self.network(batch[0]), batch[1])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class NullWriter:
    """A writer process's pipe without the process: each request pickled and dropped."""

    def __init__(self) -> None:
        self.sink = open(os.devnull, "wb")  # noqa: SIM115  (kept for the process's life)

    def send(self, request: Any) -> int | None:
        pickle.dump((None, request), self.sink)
        return 0 if request.answered else None

    def receive(self, ticket: int) -> tuple[bool, Any]:
        return True, ("benchmark-run", "0")


def logger(output_dir: str) -> Any:
    from tunelab.tracking.requests import StartRun
    from tunelab.tracking.run import TrackedRun

    run = TrackedRun(writer=NullWriter(), start=StartRun("", "", "", {}, {}), output_dir=output_dir)
    run.wait_started()
    return run.lightning_logger()


def variants(cfg, output_dir: str) -> dict[str, tuple[str, list, Any, bool]]:
    """name: (module kind, callbacks, logger, standardise the batches)."""
    callbacks = dict(cfg.callbacks)
    only = {name: build_callbacks({name: callbacks[name]}) for name in callbacks if callbacks[name]}
    rows: dict[str, tuple[str, list, Any, bool]] = {
        "bare Lightning": ("bare", [], False, False),
        "+ tunelab's Learner (loss, metrics, epoch values)": ("learner", [], False, False),
        "+ standardising each batch": ("learner", [], False, True),
    }
    for name, built in only.items():
        rows[f"+ callback {name}"] = ("learner", built, False, True)
    rows["+ the MLflow logger"] = ("learner", [], logger(output_dir), True)
    rows["tunelab: all of it"] = (
        "learner",
        build_callbacks(cfg.callbacks),
        logger(output_dir),
        True,
    )
    return rows


def fit_seconds(cfg, kind: str, callbacks: list, logger_: Any, standardise: bool, data) -> float:
    """Seconds of one fit (training and validation) with the given parts."""
    torch.manual_seed(0)
    x, y, xv, yv = data
    network = build_network(cfg.model, (FEATURES,), CLASSES, 0.0)
    module = Bare(network) if kind == "bare" else build_learner(cfg, (FEATURES,), CLASSES)
    transform = Normalize(torch.zeros(FEATURES), torch.ones(FEATURES)) if standardise else None
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=logger_,
        callbacks=[*callbacks],
        enable_checkpointing=any(
            isinstance(c, L.pytorch.callbacks.ModelCheckpoint) for c in callbacks
        ),
        enable_progress_bar=any(isinstance(c, L.pytorch.callbacks.ProgressBar) for c in callbacks),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
    )
    train = TensorBatches(x, y, BATCH, shuffle=True, transform=transform)
    val = TensorBatches(xv, yv, BATCH, transform=transform)
    start = time.perf_counter()
    trainer.fit(module, train, val)
    return time.perf_counter() - start


def main(steps: int, repeats: int) -> None:
    torch.set_num_threads(1)
    output_dir = str(scratch())
    overrides = ["model=mlp", "model.hidden_dim=32", "callbacks.early_stopping.patience=100"]
    cfg = compose_train(overrides, output_dir)
    n = steps * BATCH // 2  # two epochs
    data = (
        torch.randn(n, FEATURES),
        torch.randint(0, CLASSES, (n,)),
        torch.randn(n // 5, FEATURES),
        torch.randint(0, CLASSES, (n // 5,)),
    )
    rows = variants(cfg, output_dir)
    timings: dict[str, list[float]] = {name: [] for name in rows}
    with quiet():
        for _ in range(repeats):  # in turn, so a drifting machine weighs on all alike
            for name, parts in rows.items():
                timings[name].append(fit_seconds(cfg, *parts, data))
    per_step = {name: min(t) / steps * 1e6 for name, t in timings.items()}
    bare = per_step["bare Lightning"]
    previous = bare
    table = []
    for name, micro in per_step.items():
        # each "+ callback" row is measured on top of the standardised Learner
        base = per_step["+ standardising each batch"] if name.startswith("+ callback") else previous
        if name.startswith("+ the MLflow") or name.startswith("tunelab"):
            base = per_step["+ standardising each batch"]
        table.append(
            {
                "variant": name,
                "us per step": micro,
                "over bare": micro / bare - 1,
                "added us per step": micro - (bare if name == "tunelab: all of it" else base),
            }
        )
        if not name.startswith("+ callback"):
            previous = micro
    report(
        "loop",
        f"the loop's parts, {steps} steps of batch {BATCH}, 64-32-10 MLP, 1 torch thread",
        table,
        [
            f"fastest of {repeats} fits each, in turn; 'added' is over the row the part is added "
            "to (a callback and the logger: over the standardised Learner; all of it: over bare)",
        ],
    )


@contextlib.contextmanager
def quiet():
    """Lightning's messages and the progress bar out of the table's way."""
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()):
        yield


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="40 steps, once: the script runs")
    options = parser.parse_args()
    main(*((40, 1) if options.tiny else (options.steps, options.repeats)))
