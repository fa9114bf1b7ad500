"""The resolved config as MLflow params: dotted keys, text values (clipped where they are written)."""

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


def as_params(config: dict[str, Any]) -> dict[str, str]:
    return {key: "null" if value is None else str(value) for key, value in flatten(config).items()}
