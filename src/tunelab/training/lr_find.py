"""`python train.py lr_find=true`: Lightning's learning-rate finder on the configured model and
data instead of a training. It trains a few steps with the learning rate rising exponentially
(Tuner.lr_find) and suggests the rate where the loss falls fastest; the run records the
suggestion (metric lr_find/suggestion), the loss-against-rate plot and its values, and the
console prints the command that trains with it.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

from tunelab.tracking import TrackedRun


@dataclass
class Found:
    suggestion: float
    rates: list[float]
    losses: list[float]
    figure: Any  # matplotlib's, the finder's plot with the suggestion marked


def find_learning_rate(cfg: DictConfig, folder: Path) -> Found:
    """The finder on cfg's data and model: cfg.lr_find_range's rates over its steps; its
    temporary checkpoint in `folder`."""
    from lightning.pytorch.tuner import Tuner

    from tunelab.data.datamodule import build_datamodule, build_tokenizer
    from tunelab.data.inputs import text_vocab_size
    from tunelab.errors import UserError
    from tunelab.training.pipeline import build_learner
    from tunelab.training.trainer import build_trainer

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg.data, cfg.task, build_tokenizer(cfg.get("tokenizer")))
    model = build_learner(
        cfg,
        datamodule.input_shape,
        datamodule.num_outputs,
        datamodule.target_scale,
        vocab_size=text_vocab_size(datamodule.data.inputs),
    )
    span = cfg.get("lr_find_range") or {}
    steps = int(span.get("steps", 100))
    # The finder's own steps, not the run's epochs (a sweep's trial of 1 epoch would stop it
    # first); a schedule sized from the run's length sees those steps.
    budget = OmegaConf.merge(cfg.trainer, {"max_epochs": -1, "max_steps": steps})
    trainer = build_trainer(budget, [], logger=False, root_dir=folder)
    finder = Tuner(trainer).lr_find(
        model,
        datamodule=datamodule,
        min_lr=float(span.get("min_lr", 1e-6)),
        max_lr=float(span.get("max_lr", 1.0)),
        num_training=steps,
        update_attr=False,
    )
    suggestion = finder.suggestion() if finder is not None else None
    if finder is None or suggestion is None:  # too few steps, or the loss never fell
        raise UserError(
            "lr_find: no learning rate to suggest (the loss did not fall over the range): "
            "widen lr_find_range.min_lr / max_lr or raise lr_find_range.steps"
        )
    return Found(
        float(suggestion),
        [float(r) for r in finder.results["lr"]],
        [float(v) for v in finder.results["loss"]],
        finder.plot(suggest=True, show=False),
    )


def record_finding(run: TrackedRun, found: Found, folder: Path, overrides: list[str]) -> None:
    """The suggestion, plot and values on the run; the command that uses it on the console."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    plot, table = folder / "lr_find.png", folder / "lr_find.csv"
    found.figure.savefig(plot, dpi=120, bbox_inches="tight")
    pd.DataFrame({"lr": found.rates, "loss": found.losses}).to_csv(table, index=False)
    run.log_metrics({"lr_find/suggestion": found.suggestion})
    run.set_tags({"lr_find.suggestion": f"{found.suggestion:.3g}"})
    run.log_artifact(plot)
    run.log_artifact(table)
    kept = [
        o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in ("lr_find", "optimizer.lr")
    ]
    command = " ".join(["python train.py", *kept, f"optimizer.lr={found.suggestion:.3g}"])
    print(f"suggested learning rate {found.suggestion:.3g}; train with it:\n  {command}")
