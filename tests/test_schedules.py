"""The learning rate that reaches the optimizer (the trace MLflow logs) follows each schedule."""

import math

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import Logger
from torch import nn

from tests.conftest import compose_config
from tunelab.data.batches import TensorBatches
from tunelab.training.classifier import Classifier
from tunelab.training.optim import build_optimizer
from tunelab.training.schedules import build_schedule
from tunelab.training.trainer import LearningRate

LR, EPOCHS, BATCHES = 0.1, 6, 4  # 4 optimizer steps per epoch, 24 in all


class RecordingLogger(Logger):
    """Keeps what Lightning would send to MLflow: {metric: [(step, value)]}."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[tuple[int, float]]] = {}

    name, version = "recording", 0

    def log_metrics(self, metrics, step=None) -> None:
        for key, value in metrics.items():
            self.history.setdefault(key, []).append((step, float(value)))

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass


def lr_trace(overrides: list[str]) -> list[float]:
    cfg = compose_config(
        [f"optimizer.lr={LR}", f"trainer.max_epochs={EPOCHS}", "optimizer=sgd", *overrides]
    )
    torch.manual_seed(0)
    x, y = torch.randn(BATCHES * 8, 4), torch.randint(0, 3, (BATCHES * 8,))
    classifier = Classifier(
        nn.Sequential(nn.Linear(4, 3)),
        3,
        optimizer=build_optimizer(cfg.optimizer, cfg.regularization.exclude_bias_and_norm),
        schedule=build_schedule(cfg.scheduler),
    )
    logger = RecordingLogger()
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        logger=logger,
        callbacks=[LearningRate("step")],
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(classifier, TensorBatches(x, y, 8, shuffle=True), TensorBatches(x, y, 8))
    trace = logger.history["lr"]
    assert [step for step, _ in trace] == list(range(EPOCHS * BATCHES))
    return [value for _, value in trace]


def per_epoch(formula) -> list[float]:
    return [formula(step // BATCHES) for step in range(EPOCHS * BATCHES)]


def one_cycle(
    step: int, total: int, pct: float = 0.3, div: float = 25.0, final_div: float = 1e4
) -> float:
    start, low = LR / div, LR / div / final_div
    peak = pct * total - 1
    if step <= peak:
        return start + (LR - start) * (1 - math.cos(math.pi * step / peak)) / 2
    progress = (step - peak) / (total - 1 - peak)
    return low + (LR - low) * (1 + math.cos(math.pi * progress)) / 2


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return LR * (step + 1) / warmup
    return LR * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


CASES = {
    "constant": ([], per_epoch(lambda e: LR)),
    "step": (
        ["scheduler.step_size=2", "scheduler.gamma=0.5"],
        per_epoch(lambda e: LR * 0.5 ** (e // 2)),
    ),
    "multistep": (
        ["scheduler.milestones=[1,4]", "scheduler.gamma=0.1"],
        per_epoch(lambda e: LR * 0.1 ** sum(e >= m for m in (1, 4))),
    ),
    "exponential": (["scheduler.gamma=0.8"], per_epoch(lambda e: LR * 0.8**e)),
    "cosine": ([], per_epoch(lambda e: LR * (1 + math.cos(math.pi * e / EPOCHS)) / 2)),
    "onecycle": ([], [one_cycle(s, EPOCHS * BATCHES) for s in range(EPOCHS * BATCHES)]),
    "warmup_cosine": (
        ["scheduler.warmup_steps=5"],
        [warmup_cosine(s, 5, EPOCHS * BATCHES) for s in range(EPOCHS * BATCHES)],
    ),
}


@pytest.mark.parametrize("choice", sorted(CASES))
def test_lr_trace_follows_the_formula(choice: str) -> None:
    extra, expected = CASES[choice]
    trace = lr_trace([f"scheduler={choice}", *extra])
    assert trace == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_cosine_per_step_spans_the_whole_run() -> None:
    trace = lr_trace(["scheduler=cosine", "scheduler.interval=step"])
    total = EPOCHS * BATCHES
    assert trace == pytest.approx(
        [LR * (1 + math.cos(math.pi * s / total)) / 2 for s in range(total)]
    )


def test_plateau_lowers_the_rate_after_patience_epochs_without_improvement() -> None:
    cfg = compose_config(
        ["scheduler=plateau", "scheduler.patience=2", "scheduler.factor=0.5", f"optimizer.lr={LR}"]
    )
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=LR)
    config = build_schedule(cfg.scheduler).lightning_config(optimizer, epochs=10, steps=100)
    assert config["monitor"] == "val/acc" and config["interval"] == "epoch"
    scheduler = config["scheduler"]
    assert scheduler.mode == "max"  # from objective.mode
    signal = [0.5, 0.6, 0.7, 0.7, 0.7, 0.69, 0.7, 0.7, 0.7]  # best 0.7 at epoch 2, then flat
    rates = []
    for value in signal:
        scheduler.step(value)
        rates.append(optimizer.param_groups[0]["lr"])
    # epochs 3 and 4 without improvement are within patience; the 3rd (epoch 5) lowers the rate
    assert rates[:5] == [LR] * 5
    assert rates[5] == pytest.approx(LR * 0.5)
    assert rates[8] == pytest.approx(LR * 0.25)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["scheduler=step", "+scheduler.gama=0.5"],
            "scheduler: StepLR got an unexpected keyword argument 'gama'; its arguments: "
            "step_size, gamma",
        ),
        (
            ["scheduler.scheduler=torch.optim.lr_scheduler.Nope"],
            "scheduler.scheduler=torch.optim.lr_scheduler.Nope: no such class or function",
        ),
    ],
)
def test_a_wrong_scheduler_or_argument_stops_the_run_before_training(
    tmp_path, overrides: list[str], message: str
) -> None:
    from tests.conftest import train_in_process

    with pytest.raises(SystemExit) as stopped:
        train_in_process(overrides, tmp_path)
    assert str(stopped.value).startswith(f"tunelab: {message}")
    assert not list(tmp_path.glob("outputs/*/checkpoints"))  # no epoch was trained


@pytest.mark.parametrize("decay", [0.0, 0.01], ids=["one group", "weight-decay groups"])
def test_lr_is_logged_per_epoch_under_one_name(decay: float) -> None:
    """`lr` is the first group's rate whether or not weight decay splits the parameters; the
    group left out of decay is beside it as lr/no_decay; one value per epoch, at its epoch."""
    cfg = compose_config(["optimizer=adamw", f"optimizer.weight_decay={decay}"])
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    classifier = Classifier(
        nn.Sequential(nn.Linear(4, 3)),
        3,
        optimizer=build_optimizer(cfg.optimizer, cfg.regularization.exclude_bias_and_norm),
    )
    logger = RecordingLogger()
    trainer = L.Trainer(
        max_epochs=3,
        logger=logger,
        callbacks=[LearningRate()],
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(classifier, TensorBatches(x, y, 8, shuffle=True), TensorBatches(x, y, 8))
    assert [step for step, _ in logger.history["lr"]] == [0, 1, 2]
    assert [rate for _, rate in logger.history["lr"]] == pytest.approx([1e-3] * 3)
    assert ("lr/no_decay" in logger.history) == bool(decay)
    assert not [key for key in logger.history if key.startswith("lr-")]
