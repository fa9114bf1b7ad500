"""A short fine-tune of a sparse or slim network on the training split, with the training run's own
task module, loss, optimizer and seed, without its penalty (Lightning's loop, as in training)."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from omegaconf import OmegaConf
from torch import nn


def finetune(network: nn.Module, datamodule: Any, config: dict[str, Any], epochs: int) -> nn.Module:
    """`epochs` epochs of the training split through `network` (trained in place; pruning masks
    hold); its learning rate schedule is left out: it was shaped for the whole run."""
    import lightning as L

    from tunelab.training.optim import build_optimizer
    from tunelab.training.pipeline import task_module
    from tunelab.training.trainer import NoProfiler, plain_cuda_checks

    if epochs == 0:
        return network
    L.seed_everything(config["seed"], workers=True, verbose=False)
    regularization = config["regularization"]
    optimizer = build_optimizer(
        OmegaConf.create(config["optimizer"]), regularization["exclude_bias_and_norm"]
    )
    # Runs recorded before conf/task and conf/loss were classifiers trained with cross-entropy.
    loss = OmegaConf.create(config.get("loss") or {"_target_": "torch.nn.CrossEntropyLoss"})
    module = task_module(
        config.get("task", "classification"),
        network,
        datamodule.num_outputs,
        datamodule.target_scale,
        loss,
        regularization["label_smoothing"],
        optimizer=optimizer,
    )
    network.train()
    plain_cuda_checks()
    with quiet_lightning():  # built inside: the Trainer reports the devices it found
        trainer = L.Trainer(
            max_epochs=epochs,
            accelerator="auto",  # a GPU when there is one; the network comes back to the CPU
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            profiler=NoProfiler(),  # as build_trainer's: no cost for the profiling not asked for
        )
        trainer.fit(module, datamodule=datamodule)
    return network.cpu().eval()


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """No 'GPU available' or 'fit stopped' lines: the export's table is the output."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
