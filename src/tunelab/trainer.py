"""The Lightning Trainer and its callbacks, from conf/trainer and conf/callbacks."""

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar

from tunelab.errors import instantiate


def build_callbacks(cfg: Any) -> list[Callback]:
    """Every entry of conf/callbacks; an entry set to null is left out."""
    return [instantiate(c) for c in (cfg or {}).values() if c is not None]


def build_trainer(cfg: Any, callbacks: list[Callback], logger: Any) -> L.Trainer:
    """conf/trainer is lightning.Trainer's call (its gradient clipping comes from
    conf/regularization); the callbacks and the logger are passed in."""
    return instantiate(
        cfg,
        callbacks=callbacks,
        logger=logger,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=any(isinstance(c, ProgressBar) for c in callbacks),
        _convert_="all",
    )


class CheckpointOnStop(Callback):
    """Save `dirpath/filename.ckpt` when fit stops on an exception (Ctrl-C, SIGTERM, an error),
    so that the state a stopped run reached is kept. Lightning's OnExceptionCheckpoint saves the
    same, but its presence also turns every `fit(ckpt_path=None)` into `fit(ckpt_path="last")`,
    with two warnings on every run."""

    def __init__(self, dirpath: str, filename: str = "interrupted") -> None:
        self.path = f"{dirpath}/{filename}.ckpt"

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        trainer.save_checkpoint(self.path)
