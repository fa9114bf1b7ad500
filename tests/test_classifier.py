"""The LightningModule on its own, without Hydra."""

import lightning as L
import pytest
import torch
from torch import nn

from tunelab.training.classifier import Classifier
from tunelab.training.metrics import stage_metrics


def make_classifier(**kwargs) -> Classifier:
    torch.manual_seed(0)
    network = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    return Classifier(
        network,
        3,
        optimizer=lambda network: torch.optim.SGD(network.parameters(), lr=0.1),
        **kwargs,
    )


def test_one_training_step_lowers_the_loss() -> None:
    classifier = make_classifier()
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    optimizer = classifier.configure_optimizers()
    before = nn.functional.cross_entropy(classifier(x), y).item()
    loss = classifier.training_step((x, y), 0)
    loss.backward()
    optimizer.step()
    after = nn.functional.cross_entropy(classifier(x), y).item()
    assert loss.item() == pytest.approx(before)
    assert after < before


def test_metrics_match_a_hand_computation() -> None:
    metrics = stage_metrics("classification", 3, "val")
    logits = torch.tensor([[2.0, 0.1, 0.1], [0.1, 2.0, 0.1], [0.1, 0.1, 2.0], [2.0, 0.1, 0.1]])
    y = torch.tensor([0, 1, 1, 2])
    metrics.update(logits, y)
    values = metrics.compute()
    # predictions 0,1,2,0 against 0,1,1,2: two right of four
    assert values["val/acc"].item() == pytest.approx(2 / 4)
    # per-class F1: class 0: p=1/2 r=1 -> 2/3; class 1: p=1 r=1/2 -> 2/3; class 2: p=0 -> 0
    assert values["val/f1"].item() == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert 0.0 <= values["val/auroc"].item() <= 1.0


def test_auroc_is_one_for_a_perfect_ranking() -> None:
    metrics = stage_metrics("classification", 2, "test")
    metrics.update(
        torch.tensor([[3.0, 0.0], [0.0, 3.0], [2.0, 1.0], [1.0, 2.0]]), torch.tensor([0, 1, 0, 1])
    )
    assert metrics.compute()["test/auroc"].item() == pytest.approx(1.0)


def test_best_validation_value_is_logged(tmp_path) -> None:
    from tunelab.data.batches import TensorBatches

    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    classifier = make_classifier()
    trainer = L.Trainer(
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(classifier, TensorBatches(x, y, 16, shuffle=True), TensorBatches(x, y, 16))
    metrics = trainer.callback_metrics
    assert "val/acc_best" in metrics and "train/loss" in metrics
    assert metrics["val/acc_best"] >= metrics["val/acc"]


@pytest.mark.parametrize("average", ["macro", "weighted", "none"])
@pytest.mark.parametrize("levels", [0, 7])  # 0: no ties; 7: scores rounded to 7 levels, many ties
def test_the_rank_auroc_equals_torchmetrics(average: str, levels: int) -> None:
    """tunelab's AUROC (ranks) against torchmetrics' (the ROC curve's area), fed in chunks of
    logits as training feeds it; a class without examples is left to torchmetrics."""
    from torchmetrics.classification import MulticlassAUROC

    from tunelab.training.metrics import RankAUROC

    torch.manual_seed(0)
    for classes, absent in ((5, None), (4, 3)):
        y = torch.randint(0, classes, (3000,))
        if absent is not None:
            y[y == absent] = 0
        logits = torch.randn(3000, classes) + 2 * nn.functional.one_hot(y, classes)
        if levels:
            logits = (logits.softmax(1) * levels).round() / levels
        ours, theirs = RankAUROC(classes, average), MulticlassAUROC(classes, average)
        for chunk in range(0, 3000, 1000):
            ours.update(logits[chunk : chunk + 1000], y[chunk : chunk + 1000])
            theirs.update(logits[chunk : chunk + 1000], y[chunk : chunk + 1000])
        assert torch.allclose(ours.compute(), theirs.compute(), atol=1e-6)
