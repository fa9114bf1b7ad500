"""The run's params: the knobs a person tunes, as dotted keys, and each config group's choice.

Plumbing leaves the params (`tracking.not_params`: paths, output folders, URIs, `_target_`,
display and device switches); the whole resolved config stays in the run's config.yaml.
"""

from fnmatch import fnmatchcase
from typing import Any


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}; lists stay whole values."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted))
        else:
            flat[dotted] = value
    return flat


def knob_params(
    config: dict[str, Any], choices: dict[str, str], not_params: list[str]
) -> dict[str, str]:
    """Each group's choice (optimizer: adamw) and every key of the resolved config, less
    those matching a `not_params` pattern (fnmatch on the dotted key or group name)."""
    values = {**choices, **flatten(config)}
    return {
        key: "null" if value is None else str(value)
        for key, value in values.items()
        if not any(fnmatchcase(key, pattern) for pattern in not_params)
    }
