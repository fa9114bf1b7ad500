"""The Lightning Trainer from conf/trainer, conf/callbacks and conf/regularization."""

from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar

# Keys of conf/trainer that are tunelab's, not Trainer arguments.
TUNELAB_KEYS = ("compile",)


def build_callbacks(cfg: Any) -> list[Callback]:
    """Every entry of conf/callbacks; an entry set to null is left out."""
    return [instantiate(c) for c in (cfg or {}).values() if c is not None]


def build_trainer(cfg: Any, callbacks: list[Callback], logger: Any) -> L.Trainer:
    # instantiate: a profiler given as a config (_target_) becomes the object Trainer takes.
    trainer_args = instantiate(
        {k: v for k, v in cfg.trainer.items() if k not in TUNELAB_KEYS}, _convert_="all"
    )
    reg = cfg.regularization
    return L.Trainer(
        **trainer_args,
        callbacks=callbacks,
        logger=logger,
        gradient_clip_val=reg.gradient_clip_val,
        gradient_clip_algorithm=reg.gradient_clip_algorithm,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=any(isinstance(c, ProgressBar) for c in callbacks),
    )


def best_checkpoint(trainer: L.Trainer) -> str | None:
    """The path of the best checkpoint saved in fit, if any."""
    callback = trainer.checkpoint_callback
    return callback.best_model_path or None if isinstance(callback, ModelCheckpoint) else None
