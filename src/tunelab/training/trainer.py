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


class LearningRate(Callback):
    """Logs `lr`, the first parameter group's learning rate, and each other group's beside it
    as `lr/<group name>` (`lr/no_decay`): per epoch, on the epoch axis of the other metrics,
    or per optimizer step (`logging_interval: step`, every trainer.log_every_n_steps).

    Lightning's LearningRateMonitor names them `lr/decay` and `lr/no_decay` once weight decay
    splits the parameters, and `lr` otherwise, so runs with and without decay never share an
    `lr` chart; its per-epoch values land on the step axis."""

    def __init__(self, logging_interval: str = "epoch") -> None:
        if logging_interval not in ("epoch", "step"):
            raise ValueError(f"logging_interval={logging_interval}: allowed: epoch, step")
        self.logging_interval = logging_interval

    @staticmethod
    def rates(trainer: L.Trainer) -> dict[str, float]:
        groups = trainer.optimizers[0].param_groups
        rates = {"lr": float(groups[0]["lr"])}
        for number, group in enumerate(groups[1:], start=2):
            rates[f"lr/{group.get('name', f'group{number}')}"] = float(group["lr"])
        return rates

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.logging_interval == "epoch":  # the rate this epoch trains with
            values = {**self.rates(trainer), "step": float(trainer.current_epoch)}
            pl_module.log_dict(values, on_step=False, on_epoch=True)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        every = getattr(trainer, "log_every_n_steps", 1)  # set by Lightning at init, untyped
        if self.logging_interval == "step" and trainer.logger and trainer.global_step % every == 0:
            trainer.logger.log_metrics(self.rates(trainer), step=trainer.global_step)
