"""What each part of tunelab's training loop costs per step, over a bare Lightning loop.

python -m benchmarks.loop [--steps 1500] [--repeats 5] [--mnist] [--tiny]

Whole-loop timings on 2 cores vary by 20-30 % from run to run (benchmarks/overhead.json), more
than the parts measured here. So each part is timed where it shows: a small network (64
inputs, 10 classes, 32 hidden units) on small batches (32), one torch thread, in one process,
every variant run `--repeats` times in turn and the fastest kept. The rows add tunelab's parts
one at a time to a bare LightningModule with the same network and batches: the Learner
(loss, metrics fed a chunk of batches at a time, epoch values), the input standardisation,
each default callback, and the logger that hands metrics to the MLflow writer (here a writer
that pickles each request into /dev/null, as the pipe would). Every row fits with tunelab's
trainer (conf/trainer). The last column is each part's cost per step over the row it is
added to; "paired" is the median, over the rounds, of a row's fit against bare Lightning's fit
of the same round, which the machine's drift between rounds moves less than the fastest fits.

Then the same rows on the job of issue 36 (--mnist: that table alone), where its target (at
most 5 % over bare Lightning) is set: the default MLP (2 x 256) on 60,000 random 784-value
rows (54,000 to train, 6,000 to validate), batch 128, 2 epochs, as `python train.py
data=mnist model=mlp data.batch_size=128` trains; its rows go to loop_mnist.json. One torch
thread here too: with both cores' threads the rows varied by +-30 % from fit to fit, more than
the parts measured. A step's overhead is the same microseconds either way, but the bare step
is shorter with two threads (2,630 against 3,808 us in one sitting), so its share is larger.
"""

import argparse
import contextlib
import io
import logging
import os
import pickle
import statistics
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

CLASSES = 10


class Workload(NamedTuple):
    features: int
    batch: int
    train_rows: int  # per epoch; two epochs are trained
    val_rows: int
    model: list[str]  # conf/model overrides
    title: str


def small(steps: int) -> Workload:
    """Small batches on a small network, where each part's cost per step shows."""
    batch = 32
    return Workload(
        64, batch, steps * batch // 2, steps * batch // 10, ["model.hidden_dim=32"],
        f"{steps} steps of batch {batch}, 64-32-10 MLP, 1 torch thread",
    )  # fmt: skip


MNIST = Workload(
    784, 128, 54000, 6000, [],
    "the 60,000-image MLP: 54,000 + 6,000 rows of 784, 784-256-256-10 MLP, batch 128, 2 epochs,"
    " 1 torch thread",
)  # fmt: skip


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


def fit_seconds(cfg, variant: Variant, data, work: Workload) -> float:
    """Seconds of one fit (training and validation) with the variant's parts, by tunelab's
    trainer (conf/trainer) for every row."""
    torch.manual_seed(0)
    x, y, xv, yv = data
    if variant.kind == "bare":
        network = build_network(cfg.model, (work.features,), CLASSES, 0.0)
        module: L.LightningModule = Bare(network)
    else:
        module = build_learner(cfg, (work.features,), CLASSES)
    scale = torch.ones(work.features)
    transform = Normalize(torch.zeros(work.features), scale) if variant.standardise else None
    trainer = build_trainer(cfg.trainer, list(variant.callbacks), variant.logger)
    train = TensorBatches(x, y, work.batch, shuffle=True, transform=transform)
    val = TensorBatches(xv, yv, work.batch, transform=transform)
    start = time.perf_counter()
    trainer.fit(module, train, val)
    return time.perf_counter() - start


def main(work: Workload, repeats: int, name: str) -> None:
    torch.set_num_threads(1)
    output_dir = str(scratch())
    overrides = ["model=mlp", *work.model, "callbacks.early_stopping.patience=100"]
    overrides += ["trainer.max_epochs=2", "trainer.accelerator=cpu"]
    cfg = compose_train(overrides, output_dir)
    steps = 2 * -(-work.train_rows // work.batch)  # two epochs
    data = (
        torch.randn(work.train_rows, work.features),
        torch.randint(0, CLASSES, (work.train_rows,)),
        torch.randn(work.val_rows, work.features),
        torch.randint(0, CLASSES, (work.val_rows,)),
    )
    rows = variants(cfg, output_dir)
    timings: dict[str, list[float]] = {row: [] for row in rows}
    with quiet():
        for _ in range(repeats):  # in turn, so a drifting machine weighs on all alike
            for row, parts in rows.items():
                timings[row].append(fit_seconds(cfg, parts, data, work))
    per_step = {row: min(t) / steps * 1e6 for row, t in timings.items()}
    bare = per_step[BARE]
    table = [
        {
            "variant": row,
            "us per step": micro,
            "over bare": micro / bare - 1,
            # Each round fits every row in turn: a row against bare Lightning's fit of the
            # same round, so that the machine's drift between rounds cancels out.
            "over bare, paired": statistics.median(
                t / b for t, b in zip(timings[row], timings[BARE], strict=True)
            )
            - 1,
            "added us per step": micro - per_step[rows[row].over],
        }
        for row, micro in per_step.items()
    ]
    report(
        name,
        f"the loop's parts, {work.title}",
        table,
        [
            f"fastest of {repeats} fits each, in turn; 'paired': the median over the rounds of "
            "the row's fit against bare Lightning's in the same round; 'added' is over the row "
            "the part is added "
            "to (a callback and the logger: over the standardised Learner; all of it: over bare); "
            "a step's time is the fit's (training and validation) over its training steps",
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
    parser.add_argument("--mnist", action="store_true", help="only the 60,000-image MLP's table")
    parser.add_argument("--tiny", action="store_true", help="40 steps, once: the script runs")
    options = parser.parse_args()
    if options.tiny:
        main(small(40), 1, "loop")
    else:
        if not options.mnist:
            main(small(options.steps), options.repeats, "loop")
        main(MNIST, options.repeats, "loop_mnist")
