"""Import paths that moved, and the read-time upgrade of configs that still name them.

Configs name code by its import path (`_target_: tunelab.training.schedules.Schedule`), and
the old paths live on in places tunelab does not rewrite: a run's recorded config and
overrides (resume= compares them with today's), a checkpoint's metadata, a fork's own YAML
files and a user's command lines. Reading one, tunelab swaps the old prefix for the new, and
the job says so once; no module stays behind at the old path only to re-export the new one.
"""

import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

# Old module prefix -> new one (the layout of issue 29). The networks and data sources
# (tunelab.models.*, tunelab.data.*) kept their paths.
MOVED = {
    "tunelab.schedules.": "tunelab.training.schedules.",
    "tunelab.trainer.": "tunelab.training.trainer.",
    "tunelab.tracking.sweep_callback.": "tunelab.sweeps.callback.",
    # Replaced by a subclass whose last.ckpt is the last epoch's state (issue 30): a run
    # recorded before resumes with it, and its recorded config still compares equal.
    "lightning.pytorch.callbacks.ModelCheckpoint": "tunelab.training.trainer.EpochCheckpoint",
}


def upgraded(value: str) -> str:
    """`value` with a moved module prefix replaced; any other value as it is."""
    for old, new in MOVED.items():
        if value.startswith(old):
            return new + value[len(old) :]
    return value


def upgrade_container(node: Any) -> Any:
    """A plain config (dicts, lists, strings) with every moved path upgraded, as a new copy."""
    if isinstance(node, dict):
        return {key: upgrade_container(value) for key, value in node.items()}
    if isinstance(node, list):
        return [upgrade_container(value) for value in node]
    return upgraded(node) if isinstance(node, str) else node


def upgrade_overrides(overrides: list[str]) -> list[str]:
    """Command-line overrides (`key=value`) whose value names a moved path, upgraded."""
    return [
        f"{key}={upgraded(value)}" if sep else override
        for override in overrides
        for key, sep, value in [override.partition("=")]
    ]


def upgrade_config(cfg: Any) -> list[str]:
    """Upgrade a DictConfig in place; returns the dotted keys it changed (and warns once)."""
    from omegaconf import OmegaConf

    changed = [
        (key, value)
        for key, value in _strings(OmegaConf.to_container(cfg, resolve=False))
        if upgraded(value) != value
    ]
    for key, value in changed:
        OmegaConf.update(cfg, key, upgraded(value), force_add=True)
    if changed:
        log.warning(
            "%s: import paths tunelab moved or replaced, read as their new ones (see "
            "tunelab.cli.moved); update them in your config",
            ", ".join(f"{key}={value}" for key, value in changed),
        )
    return [key for key, _ in changed]


def _strings(node: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{prefix}{key}.")
    elif isinstance(node, str):
        yield prefix.rstrip("."), node
