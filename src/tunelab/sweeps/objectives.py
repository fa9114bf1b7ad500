"""What a search optimises and what bounds it: the objective (objective.metric / mode, what
early stopping and checkpointing follow), the further objectives (objective.more: costs), the
constraints (hydra.sweeper.constraints: `cost/latency_ms <= 0.5`), and the cost metrics a run
can measure (tunelab.export.cost). No torch, no MLflow: config checks, the sweeper and the
sweep's summary read it.
"""

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# What a run with cost.measure logs (tunelab.export.cost.measure_cost); the int8 file's two
# with cost.int8 (and cost.runtime=onnxruntime).
COSTS = ("cost/params", "cost/size_bytes", "cost/latency_ms")
INT8_COSTS = ("cost/int8_size_bytes", "cost/int8_latency_ms")
DIRECTIONS = {"max": "maximize", "min": "minimize"}


@dataclass(frozen=True)
class Objective:
    metric: str  # the first: its best validation value (the run's `objective`); then cost/*
    mode: str  # min | max


@dataclass(frozen=True)
class Constraint:
    """`METRIC <= BOUND` or `METRIC >= BOUND`."""

    metric: str
    op: str
    bound: float

    def excess(self, value: float | None) -> float:
        """How far `value` is past the bound (<= 0: satisfied), Optuna's constraint value; an
        unmeasured value is infinitely far."""
        if value is None or math.isnan(value):
            return math.inf
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


CONSTRAINT = re.compile(r"^\s*([\w/.\-]+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


def objectives(cfg_objective: Any) -> list[Objective]:
    """The objective, then objective.more's."""
    first = Objective(str(cfg_objective.metric), str(cfg_objective.mode))
    more = [Objective(str(o["metric"]), str(o["mode"])) for o in cfg_objective.get("more") or []]
    return [first, *more]


def parse_constraints(texts: Iterable[Any] | None) -> list[Constraint]:
    """hydra.sweeper.constraints; ValueError with the one line to show for a bad one."""
    parsed = []
    for text in texts or ():
        match = CONSTRAINT.match(str(text))
        if match is None:
            raise ValueError(
                f"hydra.sweeper.constraints: {text!r} is not `METRIC <= NUMBER` or "
                "`METRIC >= NUMBER` (e.g. 'cost/latency_ms <= 0.5')"
            )
        parsed.append(Constraint(match[1], match[2], float(match[3])))
    return parsed


def names_a_cost(metrics: Iterable[str]) -> bool:
    return any(m.startswith("cost/") for m in metrics)


def cost_wanted(cfg: Any, constraints: Iterable[Any] | None = None) -> bool:
    """cost.measure, where auto means: a further objective or a sweep's constraint names a cost."""
    setting = cfg.cost.measure
    if setting != "auto":
        return bool(setting)
    named = [o.metric for o in objectives(cfg.objective)[1:]]
    named += [c.metric for c in parse_constraints(constraints)]
    return names_a_cost(named)


def objective_problems(cfg: Any) -> Iterable[str]:
    """objective.more's entries that cannot work: a metric no run logs, a direction that is
    neither min nor max, a cost with cost.measure=false."""
    if cfg.cost.int8 and cfg.cost.runtime != "onnxruntime":
        yield "cost.int8=true measures an int8 ONNX file: add cost.runtime=onnxruntime"
    for entry in cfg.objective.get("more") or []:
        metric, mode = entry.get("metric"), entry.get("mode")
        if metric not in (*COSTS, *INT8_COSTS):
            allowed = ", ".join((*COSTS, *INT8_COSTS))
            yield f"objective.more: {metric} is not a metric runs log once: allowed: {allowed}"
        elif mode not in DIRECTIONS:
            yield f"objective.more: {metric} mode={mode}: allowed: min, max"
        elif cfg.cost.measure is False:
            yield f"objective.more names {metric} and cost.measure=false: set cost.measure=auto"
        elif metric in INT8_COSTS and not cfg.cost.int8:
            yield f"objective.more names {metric}: add cost.int8=true cost.runtime=onnxruntime"


def values_of(metrics: Mapping[str, float], first: float, more: list[Objective]) -> list[float]:
    """The study's values of a trial: its objective, then each further objective's metric."""
    return [first, *(metrics.get(o.metric, math.nan) for o in more)]
