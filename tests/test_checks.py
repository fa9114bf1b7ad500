"""Values that cannot work stop before training, with one message naming the key."""

import pytest

from tests.test_config import imported_modules, run_quick

BAD = {
    "negative lr": (["optimizer.lr=-1"], "optimizer.lr=-1: the learning rate must be > 0"),
    "negative penalty": (
        ["regularization=l2", "regularization.penalty.l2=-0.1"],
        "regularization.penalty.l2=-0.1: must be >= 0",
    ),
    "negative weight decay": (
        ["optimizer=adamw", "optimizer.weight_decay=-0.01"],
        "optimizer.weight_decay=-0.01",
    ),
    "onecycle without a length": (
        ["scheduler=onecycle", "trainer.max_epochs=-1"],
        "scheduler.total_steps=null needs the run's length",
    ),
    "unknown early-stopping monitor": (
        ["callbacks.early_stopping.monitor=val/accuracy"],
        "callbacks.early_stopping.monitor=val/accuracy: allowed: val/loss, val/acc",
    ),
    "bad clip algorithm": (
        ["regularization.gradient_clip_algorithm=max"],
        "regularization.gradient_clip_algorithm=max: allowed: norm, value",
    ),
    "bad fold": (["data.fold=5", "data.num_folds=5"], "data.fold=5, data.num_folds=5"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_value_stops_before_training(case: str) -> None:
    args, message = BAD[case]
    result = run_quick(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "invalid config" in result.stderr
    assert "Traceback" not in result.stderr
    assert "torch" not in imported_modules(result.stderr)
