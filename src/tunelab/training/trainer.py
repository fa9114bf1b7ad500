"""The Lightning Trainer and its callbacks, from conf/trainer and conf/callbacks."""

import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar, RichProgressBar
from lightning.pytorch.callbacks.progress.rich_progress import _RefreshThread
from lightning.pytorch.profilers import PassThroughProfiler

from tunelab.errors import UserError, instantiate

log = logging.getLogger(__name__)


def build_callbacks(cfg: Any, progress_bar: bool = True) -> list[Callback]:
    """Every entry of conf/callbacks; an entry set to null is left out, and the progress bar
    when `progress_bar` is false (a sweep's trial, which prints one line when it ends)."""
    built = [instantiate(c) for c in (cfg or {}).values() if c is not None]
    return [c for c in built if progress_bar or not isinstance(c, ProgressBar)]


def build_trainer(
    cfg: Any,
    callbacks: list[Callback],
    logger: Any,
    compiled: bool = False,
    root_dir: Path | None = None,
) -> L.Trainer:
    """conf/trainer is lightning.Trainer's call (its gradient clipping comes from
    conf/regularization); the callbacks and the logger are passed in. compiled: the network
    was compiled (compile=true); root_dir: where Lightning's own files go (the working folder
    when None)."""
    # A compiled network is compiled again for each grad mode it meets. Under Lightning's
    # default inference_mode the test's batches are inference tensors, which the validation's
    # graph does not accept: one more compilation (seconds on a GPU, about 9 s on this CPU).
    # Under no_grad validation and test share one graph.
    modes = {"inference_mode": False} if compiled and "inference_mode" not in cfg else {}
    plain_cuda_checks()
    return instantiate(
        cfg,
        callbacks=callbacks,
        logger=logger,
        **modes,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=any(isinstance(c, ProgressBar) for c in callbacks),
        **({} if cfg.get("plugins") else {"plugins": [AtomicCheckpointIO()]}),
        **({} if cfg.get("profiler") else {"profiler": NoProfiler()}),
        **({"default_root_dir": str(root_dir)} if root_dir else {}),
        _convert_="all",
    )


def plain_cuda_checks() -> None:
    """Let `torch.cuda.is_available()` ask CUDA directly again where NVML finds no GPU.

    Importing Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1, so that a CUDA check never
    initialises CUDA before DataLoader workers fork. With it, each check loads NVML again until
    CUDA is initialised, which on a CUDA build of torch without a GPU is never; and torch.optim
    checks at every optimizer step (`_accelerator_graph_capture_health_check`): 45 us a step
    here, against 1.5 us without. Without a GPU there is no CUDA to initialise, and where NVML
    fails torch asks CUDA anyway, so nothing is lost; with a GPU the setting stays.
    """
    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") == "1" and torch.cuda.device_count() == 0:
        del os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"]


class NoProfiler(PassThroughProfiler):
    """What Lightning's trainer runs with when trainer.profiler is null: no profiling, and no
    cost for it. Lightning wraps every hook of every callback, the module and the strategy in
    `profiler.profile(name)`, some 60 times a training step with the default callbacks; its
    PassThroughProfiler records nothing but still enters a generator-based context manager each
    time, about 57 us a step here (`benchmarks/loop.py`). One shared null context does the
    same nothing."""

    _nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.nullcontext:  # type: ignore[override]
        return self._nothing


class CheckpointWriteError(UserError):
    """A checkpoint could not be written: a full disk, a read-only folder."""

    def __init__(self, path: Path, error: OSError) -> None:
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        advice = (
            "free space there, or point hydra.run.dir (hydra.sweep.dir) at a disk with room"
            if full
            else "point hydra.run.dir (hydra.sweep.dir) at a folder this job can write"
        )
        super().__init__(f"cannot write the checkpoint {path}: {error.strerror}: {advice}")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, but the file is written beside the checkpoint, synced and
    renamed over it, so a crash never leaves a half file under a checkpoint's name. Lightning's
    own writes into the system's temp folder and moves the file: across filesystems (a run
    folder on NFS or another volume) the move is a copy under the final name, which a kill cuts
    short, and a full /tmp fails a save into a roomy run folder. Remote paths (s3://, ...) keep
    Lightning's writer."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            # The job's log file is likely on the same disk: a failed log line must not print
            # a traceback of its own on the console.
            logging.raiseExceptions = False
            raise CheckpointWriteError(path, error) from error


class EpochCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, but `last.ckpt` is always the state at the end of the last
    completed epoch, so that resume= continues from there. With save_last="link" Lightning
    links last.ckpt to the last checkpoint *saved*, which is the best one whenever the
    objective has not improved since: a resumed run went back to its best epoch and trained
    (and logged) every later epoch again. Here last.ckpt links to the epoch's checkpoint only
    when that one was saved at this very step; otherwise it is a file of its own (the disk
    holds best and last then, as the states differ)."""

    @property
    def state_key(self) -> str:
        """Lightning's key, worked out once. Lightning names the profiler's section for every
        callback hook it calls, profiler or not ("[Callback]{state_key}.{hook}",
        lightning/pytorch/trainer/call.py), and ModelCheckpoint's key is a repr of its
        settings: 2.3 us, about 6 times a step (measured). The settings it names (monitor,
        mode, how often) are the callback's arguments, fixed when it is made."""
        if "_state_key" not in self.__dict__:
            self.__dict__["_state_key"] = super().state_key
        return self.__dict__["_state_key"]

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        # Saving at epoch ends only (every_n_train_steps 0, no train_time_interval), Lightning
        # decides this at every batch after reading the trainer's state: 21 us a step here
        # (measured) to return.
        if self._every_n_train_steps >= 1 or self._train_time_interval is not None:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict) -> None:
        if self.save_last == "link" and self._last_global_step_saved != trainer.global_step:
            # The best checkpoint is older than this step: save the state, do not link to it.
            self._last_checkpoint_saved = ""
            last = self.format_checkpoint_name(monitor_candidates, self.CHECKPOINT_NAME_LAST)
            if trainer.is_global_zero and os.path.islink(last):
                os.remove(last)  # a link to best.ckpt: saving through it would overwrite best
        super()._save_last_checkpoint(trainer, monitor_candidates)


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
        if isinstance(exception, CheckpointWriteError):
            return  # the disk took no checkpoint: the last good one is what resume reads
        try:
            trainer.save_checkpoint(self.path)
        except CheckpointWriteError as error:  # the run's own error is the one to report
            log.warning("%s", error)


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


class WakingRefreshThread(_RefreshThread):
    """Lightning's drawing thread for its rich bar, waiting on its stop event between redraws.

    Lightning's thread sleeps a whole redraw interval at a time (its PR #21321), so stopping
    the bar, which joins it, waits up to that interval: at the end of fit and of the test, a
    0.2 s pause each at 5 redraws a second, in every single run and eval.py (about
    0.25 s a run, measured). This one redraws as Lightning's does, only when the bar asked
    (`refresh_cond`), and wakes as soon as it is told to stop."""

    def run(self) -> None:
        while not self.done.wait(1 / self.refresh_per_second):
            if self.refresh_cond:
                with self.live._lock:
                    self.live.refresh()
                self.refresh_cond = False


def wake_on_stop(progress: Any) -> None:
    """Swap the drawing thread Lightning just started for a WakingRefreshThread; the old one
    is told to stop and ends after its current sleep, unjoined. A bar without that thread
    (disabled, interactive, another Lightning) is left as it is."""
    live: Any = getattr(progress, "live", None)
    thread = getattr(live, "_refresh_thread", None)
    if type(thread) is not _RefreshThread:
        return
    waking = WakingRefreshThread(live, live.refresh_per_second)
    thread.stop()
    live._refresh_thread = waking
    waking.start()


class ThrottledProgressBar(RichProgressBar):
    """Lightning's rich progress bar, its counts and metrics read at most `refresh_rate` times a
    second rather than at every batch.

    Lightning's bar draws `refresh_rate` times a second but updates its task and reads the
    metrics (a walk over the logged values) at every batch: on a small network about a tenth
    of a step (`python -m benchmarks.loop`). A batch that ends before the next redraw is due
    is skipped here, unless it is its epoch's first or last: every epoch's bar ends full and
    has the two readings its speed is taken from."""

    def __init__(self, refresh_rate: int = 5, **kwargs: Any) -> None:
        super().__init__(refresh_rate=refresh_rate, **kwargs)
        self._next_read = 0.0

    def _init_progress(self, trainer: L.Trainer) -> None:
        super()._init_progress(trainer)
        wake_on_stop(self.progress)

    def _due(self, batch_idx: int, total: Callable[[], float]) -> bool:
        """Whether this batch is read; `total`, the epoch's batches, is asked only when it
        decides. A disabled bar (a DDP rank other than 0) reads nothing: Lightning's does
        nothing then, and the totals it keeps for an enabled bar are not set."""
        if self.is_disabled:
            return False
        now = time.monotonic()
        if now < self._next_read and batch_idx > 0 and batch_idx + 1 < total():
            return False
        self._next_read = now + 1 / max(self.refresh_rate, 1)
        return True

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._due(batch_idx, lambda: self.total_train_batches):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._due(batch_idx, lambda: self.total_val_batches_current_dataloader):
            super().on_validation_batch_end(
                trainer, pl_module, outputs, batch, batch_idx, dataloader_idx
            )

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._due(batch_idx, lambda: self.total_test_batches_current_dataloader):
            super().on_test_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)
