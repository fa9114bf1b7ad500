"""Hydra sweep syntax to Optuna distributions: interval, tag(log, ...), int(...), range, choice;
and the search space they make, conditional where a choice brings knobs of its own.

A group choice (model=cnn) may declare what a search samples when it is picked, in
conf/search_space/GROUP/CHOICE.yml (model.channels: choice(...), in the same sweep syntax).
A search that picks among a group's choices samples each choice's knobs only in the trials
that pick it (Optuna's define-by-run), and a choice's space may pick in another group
(optimizer=sgd's may search scheduler: choice(...)), whose choices bring theirs in turn.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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

from tunelab.sweeps.choice_spaces import ChoiceSpace


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


OUTSIDE = object()  # what a walk's pick gives for a value outside its distribution
Walk = dict[str, tuple[str, Any, BaseDistribution]]  # key -> (Optuna param, value, distribution)


@dataclass
class SearchSpace:
    """The searched keys: `always` in every trial; `by_choice[(group, choice)]` only in the
    trials that pick that choice (tunelab.sweeps.choice_spaces)."""

    always: dict[str, BaseDistribution]
    by_choice: dict[tuple[str, str], dict[str, BaseDistribution]] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        return bool(self.by_choice)

    def searched_keys(self) -> list[str]:
        """Every key some trial may search, in the order they are sampled."""
        keys = list(self.always)
        for knobs in self.by_choice.values():
            keys += [k for k in knobs if k not in keys]
        return keys

    def sample(self, trial: Any) -> dict[str, Any]:
        """The trial's values by key, define-by-run: a group's choice first, then that choice's
        knobs, each an Optuna param of its own (knob_name): the MLP's hidden_dim and the CNN's
        are two knobs, with their own ranges and their own history."""
        walked = self.walk(lambda name, key, dist: suggest(trial, name, dist))
        assert walked is not None  # suggest always gives a value
        return {key: value for key, (_, value, _) in walked.items()}

    def walk(self, pick: Callable[[str, str, BaseDistribution], Any]) -> Walk | None:
        """Each key a trial searches, in order: `pick(name, key, distribution)` gives its value
        (name: its Optuna param, knob_name for a choice's knob), and a group's value brings
        that choice's knobs. {key: (name, value, distribution)}; None when `pick` gives
        OUTSIDE for a key."""
        walked: Walk = {}
        pending = [(key, key, dist) for key, dist in self.always.items()]
        while pending:
            name, key, dist = pending.pop(0)
            value = pick(name, key, dist)
            if value is OUTSIDE:
                return None
            walked[key] = (name, value, dist)
            knobs = self.by_choice.get((key, str(value)), {})
            pending += [(knob_name(k, str(value)), k, d) for k, d in knobs.items()]
        return walked


def knob_name(key: str, choice: str) -> str:
    """A choice's knob as an Optuna param: model.hidden_dim/mlp (a name MLflow accepts too)."""
    return f"{key}/{choice}"


def knob_key(name: str) -> str:
    """The config key of an Optuna param: model.hidden_dim/mlp -> model.hidden_dim."""
    return name.split("/", 1)[0]


def suggest(trial: Any, key: str, dist: BaseDistribution) -> Any:
    """trial.suggest_* for `dist` (Optuna has no public suggest that takes a distribution)."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, FloatDistribution)
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def conditional_space(
    searched: dict[str, BaseDistribution], spaces: list[ChoiceSpace], parser: OverridesParser
) -> SearchSpace:
    """`searched` (the search's params and command line) with its choices' own spaces. A key
    the search names that a choice's space declares too is that choice's knob, searched only
    under it, with the search's range (the search file narrows or replaces a choice's space)."""
    by_choice: dict[tuple[str, str], dict[str, BaseDistribution]] = {}
    for space in spaces:
        overrides = parser.parse_overrides([f"{k}={v}" for k, v in space.knobs.items()])
        knobs = {o.get_key_element(): distribution(o) for o in overrides}
        by_choice[(space.group, space.choice)] = {k: searched.get(k, d) for k, d in knobs.items()}
    conditional = {key for knobs in by_choice.values() for key in knobs}
    always = {k: d for k, d in searched.items() if k not in conditional}
    return SearchSpace(always, by_choice)
