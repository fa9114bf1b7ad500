"""What each part of tunelab's training loop costs per step, over a bare Lightning loop.

python -m benchmarks.loop [--steps 1500] [--repeats 5] [--tiny]

Whole-loop timings on 2 cores vary by 20-30 % from run to run (benchmarks/overhead.json), more
than the parts measured here. So each part is timed where it shows: a small network (64
inputs, 10 classes, 32 hidden units) on small batches (32), one torch thread, in one process,
every variant run `--repeats` times in turn and the fastest kept. The rows add tunelab's parts
one at a time to a bare LightningModule with the same network and batches: the Learner
(loss, metrics fed a chunk of batches at a time, epoch values), the input standardisation,
each default callback, and the logger that hands metrics to the MLflow writer (here a writer
that pickles each request into /dev/null, as the pipe would). Every row fits with tunelab's
trainer (conf/trainer). The last column is each part's cost per step over the row it is
added to.
"""

import argparse
import contextlib
import io
import logging
import os
import pickle
import time
from typing import Any, NamedTuple

import lightning as L
import torch
import torch.nn.functional as F

from benchmarks.common import report, scratch
from tunelab.data.batches import TensorBatches
from tunelab.data.inputs import Normalize
from tunelab.models import build_network
from tunelab.training.pipeline import build_learner
from tunelab.training.rerun import compose_train
from tunelab.training.trainer import build_callbacks, build_trainer

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


class Variant(NamedTuple):
    kind: str  # "bare" or "learner"
    callbacks: list
    logger: Any
    standardise: bool
    over: str  # the row this one adds its part to


BARE, LEARNER, STANDARDISED = (
    "bare Lightning",
    "+ tunelab's Learner (loss, metrics, epoch values)",
    "+ standardising each batch",
)


def variants(cfg, output_dir: str) -> dict[str, Variant]:
    """The rows, each one part added to another: the Learner to bare Lightning, then the
    standardisation, then each callback and the logger alone; all of it against bare."""
    rows = {
        BARE: Variant("bare", [], False, False, BARE),
        LEARNER: Variant("learner", [], False, False, BARE),
        STANDARDISED: Variant("learner", [], False, True, LEARNER),
    }
    for name, node in cfg.callbacks.items():
        if node is not None:
            rows[f"+ callback {name}"] = Variant(
                "learner", build_callbacks({name: node}), False, True, STANDARDISED
            )
    rows["+ the MLflow logger"] = Variant("learner", [], logger(output_dir), True, STANDARDISED)
    everything = build_callbacks(cfg.callbacks)
    rows["tunelab: all of it"] = Variant("learner", everything, logger(output_dir), True, BARE)
    return rows


def fit_seconds(cfg, variant: Variant, data) -> float:
    """Seconds of one fit (training and validation) with the variant's parts, by tunelab's
    trainer (conf/trainer) for every row."""
    torch.manual_seed(0)
    x, y, xv, yv = data
    if variant.kind == "bare":
        module: L.LightningModule = Bare(build_network(cfg.model, (FEATURES,), CLASSES, 0.0))
    else:
        module = build_learner(cfg, (FEATURES,), CLASSES)
    scale = torch.ones(FEATURES)
    transform = Normalize(torch.zeros(FEATURES), scale) if variant.standardise else None
    trainer = build_trainer(cfg.trainer, list(variant.callbacks), variant.logger)
    train = TensorBatches(x, y, BATCH, shuffle=True, transform=transform)
    val = TensorBatches(xv, yv, BATCH, transform=transform)
    start = time.perf_counter()
    trainer.fit(module, train, val)
    return time.perf_counter() - start


def main(steps: int, repeats: int) -> None:
    torch.set_num_threads(1)
    output_dir = str(scratch())
    overrides = ["model=mlp", "model.hidden_dim=32", "callbacks.early_stopping.patience=100"]
    overrides += ["trainer.max_epochs=2", "trainer.accelerator=cpu"]
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
                timings[name].append(fit_seconds(cfg, parts, data))
    per_step = {name: min(t) / steps * 1e6 for name, t in timings.items()}
    bare = per_step[BARE]
    table = [
        {
            "variant": name,
            "us per step": micro,
            "over bare": micro / bare - 1,
            "added us per step": micro - per_step[rows[name].over],
        }
        for name, micro in per_step.items()
    ]
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
