"""Classification: the network's outputs are class logits, the loss cross-entropy (conf/loss),
the metrics accuracy, F1 and AUROC, and the test split's confusion matrix is kept."""

from typing import Any

import torch
import torchmetrics
from torch import nn

from tunelab.training.learner import Learner


class Classifier(Learner):
    """A Learner whose network maps a batch to class logits."""

    task = "classification"

    def __init__(
        self,
        network: nn.Module,
        num_classes: int,
        *,
        loss: nn.Module | None = None,
        objective: str = "val/acc",
        objective_mode: str = "max",
        **learner: Any,
    ) -> None:
        """`learner`: Learner's keyword arguments (optimizer, schedule, penalty, metadata)."""
        super().__init__(
            network, num_classes, objective=objective, objective_mode=objective_mode, **learner
        )
        self.loss = loss or nn.CrossEntropyLoss()
        # The test split's [true, predicted] counts, kept for the run's confusion matrix.
        self.confusion = torchmetrics.classification.MulticlassConfusionMatrix(num_classes)
        self.test_confusion: torch.Tensor | None = None

    def compare(
        self, outputs: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.loss(outputs, target), outputs

    def test_batch(self, predictions: torch.Tensor, target: torch.Tensor) -> None:
        self.confusion.update(predictions, target)

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.test_confusion = self.confusion.compute().cpu()
        self.confusion.reset()
