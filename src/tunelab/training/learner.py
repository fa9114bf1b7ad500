"""The LightningModule every task shares: steps, per-epoch metrics, the penalty, the best
objective so far, optimizers. A task's module (tunelab.training.classifier, tunelab.training.regressor) says
only how the network's outputs meet the targets: its loss, and what its metrics are fed."""

import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, MetricCollection, MinMetric

from tunelab.training.metrics import stage_metrics, summarise
from tunelab.training.optim import OptimizerFactory, Penalty
from tunelab.training.schedules import Schedule

STAGES = ("train", "val", "test")
Summarise = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


class StageOutputs:
    """A stage's batch outputs, fed to its metrics a chunk of batches at a time.

    Updating three torchmetrics objects and a mean every step costs about as much as a small
    model's step; one update per `chunk` batches gives the same values for a fraction of it.
    """

    def __init__(self, metrics: MetricCollection, loss: MeanMetric, chunk: int = 32) -> None:
        self.metrics, self.loss, self.chunk = metrics, loss, chunk
        self.predictions: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []
        self.losses: list[torch.Tensor] = []
        self.sizes: list[int] = []

    def add(self, predictions: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        self.predictions.append(predictions.detach())
        self.targets.append(target)
        self.losses.append(loss.detach())
        self.sizes.append(target.shape[0])
        if len(self.predictions) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self.predictions:
            return
        target = torch.cat(self.targets)
        self.metrics.update(torch.cat(self.predictions), target)
        sizes = torch.tensor(self.sizes, dtype=self.losses[0].dtype, device=target.device)
        total = (torch.stack(self.losses) * sizes).sum()  # each batch's mean, by its size
        self.loss.update(total / len(target), weight=len(target))
        self.predictions, self.targets, self.losses, self.sizes = [], [], [], []

    def compute(self, stage: str, summarise: Summarise = summarise) -> dict[str, torch.Tensor]:
        """The stage's loss and metrics, one number each (several targets: `summarise`)."""
        self.flush()
        values = {f"{stage}/loss": self.loss.compute(), **summarise(self.metrics.compute())}
        self.metrics.reset()
        self.loss.reset()
        return values


class Learner(L.LightningModule):
    """Trains any network on batches (x, y); receives everything built."""

    task = ""  # the key of tunelab.tasks.METRICS

    def __init__(
        self,
        network: nn.Module,
        num_outputs: int,
        *,
        optimizer: OptimizerFactory,
        schedule: Schedule | None = None,
        penalty: Penalty | None = None,
        objective: str = "val/loss",
        objective_mode: str = "min",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.optimizer_factory, self.schedule, self.penalty = optimizer, schedule, penalty
        self.objective = objective
        self.metadata = metadata or {}  # plain containers, saved into every checkpoint
        metrics = {s: stage_metrics(self.task, num_outputs, s) for s in STAGES}
        # nan_strategy="disable": a NaN loss must reach the epoch mean (and stop the run), not
        # be dropped; it also spares a host sync per step.
        losses = {s: MeanMetric(nan_strategy="disable") for s in STAGES}
        self.outputs = {s: StageOutputs(metrics[s], losses[s]) for s in STAGES}
        # Registered as submodules so they move to the device and enter checkpoints; ModuleDict
        # keys cannot be "train" (nn.Module.train), hence the suffix.
        self.metrics = nn.ModuleDict({f"{s}_": m for s, m in metrics.items()})
        self.losses = nn.ModuleDict({f"{s}_": m for s, m in losses.items()})
        self.penalty_mean = MeanMetric(nan_strategy="disable")
        self.best = MaxMetric() if objective_mode == "max" else MinMetric()
        self.best.persistent(True)  # in checkpoints: a resumed run keeps its best so far

    def compare(
        self, outputs: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the loss, what the metrics take) of the network's outputs against the targets."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        loss, predictions = self.compare(self(x), y)
        self.outputs[stage].add(predictions, y, loss)
        if stage == "test":
            self.test_batch(predictions.detach(), y)
        return loss

    def test_batch(self, predictions: torch.Tensor, target: torch.Tensor) -> None:
        """A test batch's predictions, for what a task keeps of the test split besides metrics."""

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train")
        if self.penalty is not None:
            penalty = self.penalty()
            self.penalty_mean.update(penalty.detach())
            loss = loss + penalty
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def _epoch_values(self, stage: str) -> dict[str, torch.Tensor]:
        return self.outputs[stage].compute(stage, self.summarise)

    def summarise(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A metric's per-output values as logged (tunelab.training.metrics.summarise)."""
        return summarise(values)

    def on_train_epoch_start(self) -> None:
        self.epoch_started = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        values = self._epoch_values("train")
        values["train/epoch_time"] = torch.tensor(time.perf_counter() - self.epoch_started)
        if self.penalty is not None:
            values["train/penalty"] = self.penalty_mean.compute()
            self.penalty_mean.reset()
        # One check per epoch instead of a host sync every step.
        if not torch.isfinite(values["train/loss"]):
            raise FloatingPointError(
                f"training loss is {values['train/loss'].item()} at epoch {self.current_epoch}: "
                "lower optimizer.lr or add gradient clipping (regularization.gradient_clip_val)"
            )
        self._log_epoch(values)

    def on_validation_epoch_end(self) -> None:
        values = self._epoch_values("val")
        if self.trainer.sanity_checking:
            return
        if self.objective in values:
            self.best.update(values[self.objective])
            values[f"{self.objective}_best"] = self.best.compute()
        self._log_epoch(values)

    def on_test_epoch_end(self) -> None:
        self._log_epoch(self._epoch_values("test"))

    def _log_epoch(self, values: dict[str, torch.Tensor]) -> None:
        # "step" makes the epoch the x-axis of these metrics in MLflow.
        self.log_dict({**values, "step": float(self.current_epoch)}, on_step=False, on_epoch=True)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.network)
        if self.schedule is None:
            return optimizer
        scheduler = self.schedule.lightning_config(
            optimizer,
            epochs=self.trainer.max_epochs or 0,
            steps=int(self.trainer.estimated_stepping_batches),
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["tunelab"] = self.metadata
