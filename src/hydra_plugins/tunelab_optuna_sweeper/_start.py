"""What a study starts from besides its sampler: the finished runs of the store that fall inside
its space (hydra.sweeper.warm_start, added as complete trials), the current config and chosen
points (enqueue_current, enqueue: asked first)."""

from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from hydra_plugins.tunelab_optuna_sweeper._search_space import OUTSIDE, SearchSpace

WARM_ATTR = "warm_start_run"  # a trial added from an earlier run: that run's id
Point = tuple[dict[str, Any], dict[str, BaseDistribution]]  # Optuna params, their distributions


def point_of(space: SearchSpace, params: dict[str, str]) -> Point | None:
    """The trial a run's params (`params`: key -> logged text) make in `space`; None when a
    searched key is missing or outside its range."""
    walked = space.walk(
        lambda name, key, dist: parse(dist, params[key]) if key in params else OUTSIDE
    )
    if walked is None:
        return None
    return {n: v for n, v, _ in walked.values()}, {n: d for n, _, d in walked.values()}


def parse(dist: BaseDistribution, text: str) -> Any:
    """A logged value as `dist` holds it, or OUTSIDE."""
    same = text.replace(" ", "").lower()
    if isinstance(dist, CategoricalDistribution):
        return next((c for c in dist.choices if str(c).replace(" ", "").lower() == same), OUTSIDE)
    try:
        value: Any = int(float(text)) if isinstance(dist, IntDistribution) else float(text)
    except ValueError:
        return OUTSIDE
    assert isinstance(dist, IntDistribution | FloatDistribution)
    return value if dist._contains(dist.to_internal_repr(value)) else OUTSIDE


def add_runs(
    study: optuna.Study,
    space: SearchSpace,
    runs: list[dict[str, Any]],
    fixed: dict[str, str],
    objective: dict[str, str],
) -> tuple[int, int, int]:
    """Earlier runs inside the space as COMPLETE trials, pruned trials as PRUNED ones with their
    curves (once each); (finished added, pruned added, skipped). A run
    trained with another fixed value (trainer.max_epochs=40 against this search's 15) or for
    another objective is not comparable: skipped."""
    known = {t.user_attrs.get(WARM_ATTR) for t in study.get_trials(deepcopy=False)}
    added, skipped = {"finished": 0, "pruned": 0}, 0
    for run in (r for r in runs if r["run_id"] not in known):
        params = run["params"]
        comparable = all(
            params.get(f"objective.{k}", v) == v for k, v in objective.items()
        ) and all(same_value(params.get(k), v) for k, v in fixed.items())
        point = point_of(space, params) if comparable else None
        if point is None:
            skipped += 1
            continue
        values, dists = point
        pruned = run.get("state") == "pruned"  # its curve, as the trial reported it
        trial = optuna.trial.create_trial(
            state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
            params=values,
            distributions=dists,
            value=None if pruned else run["objective"],
            intermediate_values={int(k): v for k, v in run.get("curve", {}).items()},
            user_attrs={WARM_ATTR: run["run_id"]},
        )
        study.add_trial(trial)
        added["pruned" if pruned else "finished"] += 1
    return added["finished"], added["pruned"], skipped


def same_value(logged: str | None, wanted: str) -> bool:
    """A run's param against a fixed override: equal as numbers or as text; a key the run did
    not log (a group's choice it never had) does not count against it."""
    if logged is None:
        return True
    try:
        return float(logged) == float(wanted)
    except ValueError:
        return logged.replace(" ", "").lower() == wanted.replace(" ", "").lower()


def current_point(space: SearchSpace, config: Any, overrides: dict[str, Any]) -> Point | None:
    """The trial the current config makes (its group choices and values, `overrides` over
    them): None when it is outside the space."""
    params = {}
    for key in space.searched_keys():
        if key in overrides:
            value = overrides[key]
        elif "." not in key and key in config.hydra.runtime.choices:
            value = config.hydra.runtime.choices[key]
        else:
            value = OmegaConf.select(config, key, default=None)
            if OmegaConf.is_config(value):
                value = OmegaConf.to_container(value)
        params[key] = str(value).replace(" ", "")
    return point_of(space, params)


def enqueue(study: optuna.Study, point: Point) -> bool:
    """Ask `point` next, unless the study already holds it (an earlier run, an earlier ask)."""
    params = point[0]
    if any(t.params == params for t in study.get_trials(deepcopy=False)):
        return False
    study.enqueue_trial(params)
    return True
