"""The shape of the config's user-facing values, declared once: each key's type, range or
choices, and what the message says when a value is outside them. tunelab.jobs.checks reads it;
tests/test_checks.py checks every key against the YAML files in conf/.

Hydra's structured configs would type the keys too, but only by moving the defaults out of the
YAML files a fork edits, and without ranges; a value outside these ends in one line naming the
key before anything heavy is imported.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf


@dataclass(frozen=True)
class Key:
    """kind: int (a whole number) or float (any number), checked when the value is set (not
    null); at_least / above / below: its range; choices: its allowed values; says: the message
    after `key=value: ` when the range or choices are not met (default: the range)."""

    kind: type | None = None
    at_least: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple[Any, ...] | None = None
    says: str | None = None
    required: bool = False  # null is refused too

    def type_problem(self, key: str, value: Any) -> str | None:
        if value is None:
            return f"{key}=null: must be a number" if self.required else None
        if self.kind is None:
            return None
        allowed = (int,) if self.kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            return f"{key}={value}: must be {'a whole number' if self.kind is int else 'a number'}"
        return None

    def value_problem(self, key: str, value: Any) -> str | None:
        if value is None:
            return None
        if self.choices is not None:
            if value in self.choices:
                return None
            return (
                f"{key}={value}: {self.says or 'allowed: ' + ', '.join(map(_word, self.choices))}"
            )
        ok = (
            (self.at_least is None or value >= self.at_least)
            and (self.above is None or value > self.above)
            and (self.below is None or value < self.below)
        )
        return None if ok else f"{key}={value}: {self.says or self.range()}"

    def range(self) -> str:
        if self.at_least is not None and self.below is not None:
            return f"must be in [{_word(self.at_least)}, {_word(self.below)})"
        if self.above is not None:
            return f"must be > {_word(self.above)}"
        return f"must be >= {_word(self.at_least)}"


def _word(value: Any) -> str:
    """A value as a user types it: true, 0, 0.5."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


OFF = "must be >= 0 (0 turns it off)"
FRACTION = Key(float, at_least=0, below=1)
MIN_MAX = Key(choices=("min", "max"))

# python train.py
TRAIN: dict[str, Key] = {
    "seed": Key(int),
    "repeats": Key(int, at_least=1, says="must be >= 1 (the trainings of the configuration)"),
    "optimizer.lr": Key(float, above=0, says="the learning rate must be > 0"),
    "optimizer.weight_decay": Key(float, at_least=0, says=OFF),
    "optimizer.momentum": Key(float),
    "data.batch_size": Key(int, at_least=1),
    "data.split.val": Key(float),
    "data.split.test": Key(float),
    "data.split.seed": Key(int),
    "data.fold": Key(int),
    "data.num_folds": Key(int),
    "data.num_workers": Key(int),
    "data.in_memory": Key(choices=("auto", True, False)),
    "regularization.dropout": FRACTION,
    "regularization.label_smoothing": FRACTION,
    "regularization.gradient_clip_val": Key(float, at_least=0, says=OFF),
    "regularization.gradient_clip_algorithm": Key(choices=("norm", "value")),
    "regularization.penalty.l1": Key(float, at_least=0, says=OFF),
    "regularization.penalty.l2": Key(float, at_least=0, says=OFF),
    "trainer.max_epochs": Key(int),
    "trainer.accumulate_grad_batches": Key(int, at_least=1),
    "trainer.max_steps": Key(int),
    "trainer.min_epochs": Key(int),
    "trainer.limit_train_batches": Key(float),
    "trainer.limit_val_batches": Key(float),
    "trainer.limit_test_batches": Key(float),
    "objective.mode": MIN_MAX,
    "tokenizer.max_length": Key(int, at_least=1, says="must be >= 1 (tokens kept per text)"),
    "tokenizer.min_count": Key(int, at_least=1),
    "tokenizer.max_vocabulary": Key(int, at_least=1, says="must be >= 1 (null: every word)"),
    "tokenizer.vocab_size": Key(int, at_least=3, says="must be >= 3 (two specials and a piece)"),
    "tokenizer.algorithm": Key(choices=("bpe", "wordpiece")),
    "word_vectors.freeze": Key(choices=(True, False)),
    "lr_find": Key(choices=(True, False)),
    "lr_find_range.min_lr": Key(float, above=0),
    "lr_find_range.max_lr": Key(float, above=0),
    "lr_find_range.steps": Key(int, at_least=2, says="must be >= 2 (steps the finder trains)"),
    "freeze.until_epoch": Key(
        int, at_least=1, says="must be >= 1 (null: frozen for the whole run)"
    ),
    "freeze.lr_factor": Key(float, above=0, says="must be > 0 (the unfrozen modules' share of lr)"),
    "scheduler.interval": Key(choices=("epoch", "step")),
    "tracking.writer": Key(choices=("process", "inline")),
    "tracking.flush_seconds": Key(float, at_least=0, says="must be >= 0 (0: write every log call)"),
    "tracking.heartbeat_seconds": Key(float, at_least=0, says="must be >= 0 (0: no heartbeat)"),
    "on_trial_error": Key(choices=("continue", "stop")),
    "cost.measure": Key(choices=("auto", True, False)),
    "cost.runtime": Key(choices=("pytorch", "onnxruntime")),
    "cost.calls": Key(int, at_least=1),
    "cost.warmup": Key(int, at_least=0),
    "cost.int8": Key(choices=(True, False)),
}

# python export.py
EXPORT: dict[str, Key] = {
    "export.finetune_epochs": Key(
        int, at_least=0, says="must be >= 0 (0: no fine-tune)", required=True
    ),
    "export.tolerance": Key(float, required=True),
    "sparse.fraction": Key(
        float, at_least=0, below=1, says="must be in [0, 1) (the fraction removed)", required=True
    ),
    "slim.fraction": Key(
        float, at_least=0, below=1, says="must be in [0, 1) (the fraction removed)", required=True
    ),
    "quantize.calibration_batches": Key(int, required=True),
    "latency.calls": Key(int, required=True),
    "latency.warmup": Key(int, required=True),
    "objective.mode": Key(choices=("min", "max"), says="choose min or max"),
}


def type_problems(cfg: DictConfig, schema: dict[str, Key]) -> Iterator[str]:
    """Values of the wrong type (checked first: every other check computes with them)."""
    for key, rule in schema.items():
        if problem := rule.type_problem(key, OmegaConf.select(cfg, key, default=None)):
            yield problem


def value_problems(cfg: DictConfig, schema: dict[str, Key]) -> Iterator[str]:
    """Values of the right type outside their range or choices."""
    for key, rule in schema.items():
        if problem := rule.value_problem(key, OmegaConf.select(cfg, key, default=None)):
            yield problem
