"""The training pipeline: data, model, trainer; fit; test; the objective.

Each builder takes its own config group and the values learned on the way (outputs, input
shape, a regression's target scale) as arguments. The job wrapper (tunelab.jobs.wrapper) opened `run` and ends it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightning as L
from omegaconf import DictConfig
from torch import nn

from tunelab.cli.console import print_results
from tunelab.data.datamodule import build_datamodule, build_tokenizer
from tunelab.data.inputs import text_vocab_size
from tunelab.errors import instantiate
from tunelab.inference.checkpoint import (
    best_checkpoint,
    checkpoint_metadata,
    input_example,
)
from tunelab.models import build_network
from tunelab.models.word_vectors import start_from_word_vectors
from tunelab.sweeps.curves import RepeatCurves
from tunelab.sweeps.pruning import trial_callbacks
from tunelab.tracking import TrackedRun
from tunelab.training.classifier import Classifier
from tunelab.training.freezing import build_freeze
from tunelab.training.initial_weights import (
    StartingWeights,
    read_starting_weights,
    start_network,
)
from tunelab.training.learner import Learner
from tunelab.training.optim import build_optimizer, build_penalty
from tunelab.training.regressor import Regressor
from tunelab.training.rerun import resume_checkpoint
from tunelab.training.schedules import build_schedule
from tunelab.training.trainer import build_callbacks, build_trainer


@dataclass
class Trained:
    """What one training left: the objective (its best validation value, what sweepers
    compare), the best checkpoint, the test metrics, and what logging its model needs."""

    objective: float
    epochs: int
    checkpoint: str | None
    test: dict[str, float]
    metadata: dict[str, Any]
    example: Any
    costs: dict[str, float]  # cost/* when measured (tunelab.export.cost)


def train(
    cfg: DictConfig,
    run: TrackedRun,
    quiet: bool = False,
    curves: RepeatCurves | None = None,
    measure_cost: Callable[..., dict[str, float]] | None = None,
) -> Trained:
    """Train and test one model. quiet (a sweep's trial, a repeat): no progress bar and no
    results table; curves: a repeat of repeats=N records its objective's curve there;
    measure_cost: what measures the best model's cost to ship (the job passes
    tunelab.export.cost.measure_cost when cost/* are wanted)."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg.data, cfg.task, build_tokenizer(cfg.get("tokenizer")))
    start = read_init_from(cfg, run.folder("init_from"))
    # Weights trained elsewhere expect their own input statistics (recorded with them).
    as_source = datamodule.use_statistics(start.normalize) if start else False
    metadata = checkpoint_metadata(run.config, datamodule)
    model = build_learner(
        cfg,
        datamodule.input_shape,
        datamodule.num_outputs,
        datamodule.target_scale,
        metadata,
        text_vocab_size(datamodule.data.inputs),
    )
    outputs = list(datamodule.data.targets or datamodule.data.classes)
    started = start_network(model.network, start, as_source, outputs)
    vectors = start_from_word_vectors(
        model.network, cfg.get("word_vectors") or {}, datamodule.data.inputs
    )
    callbacks = [
        # Freeze first: a group it adds at an epoch's start is there when `lr` is logged.
        *build_freeze(cfg.get("freeze"), model.network),
        *build_callbacks(cfg.callbacks, progress_bar=not quiet),
        *trial_callbacks(cfg.objective.metric, curves),
    ]
    trainer = build_trainer(cfg.trainer, callbacks, run.lightning_logger(), cfg.compile)
    run.log_setup(datamodule, trainer)  # waits for the run: a bad store stops the job here
    run.log_start(started, vectors, quiet)  # what the network started from, when not random
    metadata["run_id"] = run.run_id  # every checkpoint names its run

    resume_from = resume_checkpoint(cfg.get("resume"), cfg.callbacks)
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from)
    best = best_checkpoint(trainer)
    run.log_checkpoint(best)
    results = trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False)
    objective = float(model.best.compute())
    run.log_results(objective, epochs=trainer.current_epoch)
    # What it costs to ship, timed before the writer draws the confusion matrix beside it.
    measured = (
        measure_cost(best, datamodule, cfg.cost, run.folder("cost"))
        if measure_cost and best
        else {}
    )
    run.log_costs(measured, str(cfg.cost.runtime))
    if isinstance(model, Classifier):
        run.log_confusion_matrix(model.test_confusion, metadata["classes"])
    example = input_example(datamodule, metadata)
    run.log_model(best, metadata, example, results[0])
    if not quiet:
        print_results(results[0], f"{cfg.objective.metric}_best", objective)
    epochs = trainer.current_epoch
    return Trained(objective, epochs, best, dict(results[0]), metadata, example, measured)


def read_init_from(cfg: DictConfig, folder: Any) -> StartingWeights | None:
    """The weights init_from names (a run's are fetched into `folder`); None when unset."""
    init_from = cfg.get("init_from")
    if not init_from:
        return None
    return read_starting_weights(str(init_from), cfg.tracking.uri, folder, cfg.model)


def build_learner(
    cfg: DictConfig,
    input_shape: tuple[int, ...],
    num_outputs: int,
    target_scale: dict[str, list[float]] | None = None,
    metadata: dict[str, Any] | None = None,
    vocab_size: int | None = None,
) -> Learner:
    """The network sized from the data (conf/model) with its loss (conf/loss), optimizer,
    schedule and penalty (conf/optimizer, conf/scheduler, conf/regularization) and the
    objective it tracks, in the task's module: a Classifier, or a Regressor that learns the
    targets standardised with `target_scale` (the training split's); a text network has
    `vocab_size` embeddings (the tokenizer's vocabulary)."""
    reg = cfg.regularization
    network = build_network(cfg.model, input_shape, num_outputs, reg.dropout, vocab_size)
    if cfg.compile:  # in place, so checkpoints keep the plain parameter names
        network.compile()
    common = {
        "optimizer": build_optimizer(cfg.optimizer, reg.exclude_bias_and_norm),
        "schedule": build_schedule(cfg.scheduler),
        "penalty": build_penalty(network, reg.penalty, reg.exclude_bias_and_norm),
        "objective": cfg.objective.metric,
        "objective_mode": cfg.objective.mode,
        "metadata": metadata,
    }
    return task_module(
        cfg.task, network, num_outputs, target_scale, cfg.loss, reg.label_smoothing, **common
    )


def task_module(
    task: str,
    network: nn.Module,
    num_outputs: int,
    target_scale: dict[str, list[float]] | None,
    cfg_loss: Any,
    label_smoothing: float,
    **common: Any,
) -> Learner:
    """The task's LightningModule around `network`, its loss built from conf/loss: a
    Regressor (targets standardised with `target_scale`) or a Classifier (label smoothing)."""
    if task == "regression":
        assert target_scale is not None  # the DataModule's, from the training split
        return Regressor(network, target_scale, loss=instantiate(cfg_loss), **common)
    loss = instantiate(cfg_loss, label_smoothing=label_smoothing)
    return Classifier(network, num_outputs, loss=loss, **common)
