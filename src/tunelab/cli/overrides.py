"""Hydra override strings (`+db.password=x`, `optimizer.lr=1e-3,1e-4`): their key, their value
and whether they sweep, read one way for the rerun command line, trial names and sweep notes."""

from collections.abc import Iterable

# Hydra's sweep functions; a value with a comma is a list to sweep too.
SWEEP_FUNCTIONS = ("range(", "interval(", "choice(", "tag(", "glob(")


def override_key(override: str) -> str:
    """`+db.password=x` -> `db.password`: Hydra's +, ++ and ~ prefixes dropped."""
    return override.split("=", 1)[0].lstrip("+~")


def override_value(override: str) -> str:
    return override.split("=", 1)[1] if "=" in override else ""


def is_sweep(override: str) -> bool:
    """A list (`1e-3,1e-4`) or a sweep function (`interval(0.1, 0.2)`, `tag(log, ...)`)."""
    value = override_value(override)
    return "," in value or value.startswith(SWEEP_FUNCTIONS)


def overrides_dict(overrides: Iterable[str]) -> dict[str, str]:
    """{key: value} of the assignments among `overrides` (a flag without `=` is left out)."""
    return {override_key(o): override_value(o) for o in overrides if "=" in o}
