"""Hydra sweep syntax to Optuna distributions: interval, tag(log, ...), int(...), range, choice."""

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


def distribution(override: Override) -> BaseDistribution:
    value = override.value()
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        return CategoricalDistribution(choices)  # type: ignore[arg-type]  # encoded: plain values
    if isinstance(value, RangeSweep):
        # Hydra's range excludes its stop; Optuna's high is the last value taken.
        values = [float(v) for v in override.sweep_iterator()]  # type: ignore[arg-type]
        if all(isinstance(v, int) for v in override.sweep_iterator()):
            return IntDistribution(int(values[0]), int(values[-1]), step=int(value.step))
        return FloatDistribution(values[0], values[-1], step=float(value.step))
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        start, end = value.start, value.end
        assert start is not None and end is not None  # the grammar requires both
        if isinstance(start, int) and isinstance(end, int):  # int(interval(...))
            return IntDistribution(start, end, log=log)
        return FloatDistribution(float(start), float(end), log=log)
    raise ValueError(
        f"{override.input_line}: not a sweep Optuna can search (use interval, range or choice)"
    )


def split_search_space(
    params: dict[str, str], arguments: list[str], parser: OverridesParser
) -> tuple[dict[str, BaseDistribution], list[str]]:
    """(distributions of the swept keys, the fixed overrides); the command line wins over params."""
    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    by_key: dict[str, Override] = {}
    for override in parser.parse_overrides(lines):
        by_key[override.get_key_element()] = override  # later (command line) replaces earlier
    space = {k: distribution(o) for k, o in by_key.items() if o.is_sweep_override()}
    fixed = [str(o.input_line) for o in by_key.values() if not o.is_sweep_override()]
    return space, fixed


def grid_of(space: dict[str, BaseDistribution]) -> dict[str, list]:
    """The values GridSampler walks through; only finite spaces (choice, range) have a grid."""
    grid = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            grid[key] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            grid[key] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            count = round((dist.high - dist.low) / dist.step) + 1
            grid[key] = [dist.low + i * dist.step for i in range(count)]
        else:
            raise ValueError(
                f"hydra/sweeper/sampler=grid cannot search {key}: give it choice() or range() values"
            )
    return grid
