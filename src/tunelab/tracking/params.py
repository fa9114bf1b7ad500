"""The resolved config as MLflow params: dotted keys, values within MLflow's limits."""

from typing import Any

# MLflow's limits (mlflow.utils.validation): key length and value length of a param.
MAX_KEY = 250
MAX_VALUE = 6000


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
    params = {}
    for key, value in flatten(config).items():
        text = "null" if value is None else str(value)
        if len(text) > MAX_VALUE:
            text = text[: MAX_VALUE - 3] + "..."
        params[key[:MAX_KEY]] = text
    return params
