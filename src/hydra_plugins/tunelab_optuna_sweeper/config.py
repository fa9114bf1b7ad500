"""Config groups of the sweeper: hydra/sweeper=optuna, hydra/sweeper/sampler, hydra/sweeper/pruner."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = 42
    n_startup_trials: int = 5
    multivariate: bool = True
    # Conditional spaces (a choice's own knobs, tunelab.sweeps.choice_spaces): the knobs that
    # appear together are modelled together, instead of falling back to independent sampling.
    group: bool = True
    constant_liar: bool = True  # parallel trials asked at once spread out instead of colliding


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = 42


@dataclass
class GridSamplerConf:
    """Every combination of the choice() and range() params, in a seeded order."""

    _target_: str = "optuna.samplers.GridSampler"
    seed: int | None = 42


@dataclass
class CmaEsSamplerConf:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: int | None = 42
    n_startup_trials: int = 1


@dataclass
class QMCSamplerConf:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: int | None = 42
    qmc_type: str = "sobol"
    scramble: bool = True


@dataclass
class GPSamplerConf:
    """Gaussian-process Bayesian optimisation: strong on small budgets (tens of trials)."""

    _target_: str = "optuna.samplers.GPSampler"
    seed: int | None = 42
    n_startup_trials: int = 10
    # A choice's own knobs exist in some trials only: GP samples them at random, by design.
    warn_independent_sampling: bool = False


@dataclass
class NSGAIISamplerConf:
    """The genetic algorithm of several objectives (accuracy against cost): a Pareto front."""

    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: int | None = 42
    population_size: int = 10  # Optuna's 50 would make a 30-trial search a random one


@dataclass
class NSGAIIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIIISampler"
    seed: int | None = 42
    population_size: int = 10


@dataclass
class MedianPrunerConf:
    """Prune a trial whose objective at an epoch is worse than the median of earlier trials'."""

    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 2
    n_warmup_steps: int = 1
    interval_steps: int = 1


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3


@dataclass
class NopPrunerConf:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.tunelab_optuna_sweeper.optuna_sweeper.TunelabOptunaSweeper"
    # The sampler is built when the search space is known (GridSampler needs it).
    _recursive_: bool = False
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "median"}])
    sampler: Any = MISSING
    pruner: Any = MISSING
    # maximize | minimize; null: from objective.mode (max -> maximize)
    direction: str | None = None
    # null: tracking.experiment. The same name and storage continue a study.
    study_name: str | None = None
    # null: a journal file optuna.journal in the sweep folder (several processes can share it);
    # a path ending in .journal, or a database URL such as sqlite:///optuna.db.
    storage: str | None = None
    # Trials the study should hold when the sweep ends, counting those of earlier sweeps.
    n_trials: int = 20
    # Trials running at once (a launcher such as joblib, submitit or ray runs them in parallel).
    n_jobs: int = 1
    # true: a new trial starts the moment one ends, so no worker idles while a batch's slowest
    # trial finishes; false: n_jobs trials at a time, the next batch when all of them ended.
    # Hydra's basic launcher runs trials in the sweep's own process: always one batch at a time.
    refill: bool = True
    # A failed trial is asked again with the same params up to this many times (a retry does
    # not count in n_trials). A trial left RUNNING by a killed sweep is always asked again.
    retries: int = 0
    # The search space, in Hydra's sweep syntax: interval(), tag(log, ...), int(), range(), choice().
    params: dict[str, str] | None = None
    # Budgets besides n_trials (null: none). timeout: seconds of this sweep after which no new
    # trial starts (the running ones finish); patience: stop after this many finished trials in
    # a row without a new best. The parent run's tag sweep.stopped_by says which one stopped it.
    timeout: float | None = None
    patience: int | None = None
    # Each trial trains its configuration this many times (seeds, or folds with data.num_folds):
    # its objective is their mean, and the pruner judges the mean. null: the config's `repeats`.
    repeats: int | None = None
    # Bounds on what a trial measured, e.g. ["cost/latency_ms <= 0.5", "cost/params <= 50000"]:
    # a trial past one is infeasible (Optuna's constraints_func; tpe, gp, nsga2, nsga3), tagged
    # so on its run, never the best. Further objectives: objective.more (conf/task).
    constraints: list[str] = field(default_factory=list)
    # What the study starts from. warm_start: an experiment's name, a sweep's parent run id, or
    # a list of run ids: their finished runs whose params fall inside this space (and whose
    # fixed values and objective match) join the study as complete trials before the first ask
    # (they do not count in n_trials). enqueue_current: the current config (its choices and
    # values) is the first trial asked; enqueue: more points to ask first, [{key: value}].
    warm_start: Any = None
    enqueue_current: bool = True
    enqueue: Any = None
    # true: before the first trial, Lightning's learning-rate finder runs on the sweep's config
    # (tunelab.training.lr_find) and optimizer.lr is searched over a decade around its suggestion
    # (log scale) instead of the interval in params; recorded on the parent (sweep.lr_find).
    lr_find: bool = False


def register() -> None:
    store = ConfigStore.instance()
    provider = "tunelab_optuna_sweeper"
    store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider=provider)
    samplers = {
        "tpe": TPESamplerConf,
        "random": RandomSamplerConf,
        "grid": GridSamplerConf,
        "cmaes": CmaEsSamplerConf,
        "qmc": QMCSamplerConf,
        "gp": GPSamplerConf,
        "nsga2": NSGAIISamplerConf,
        "nsga3": NSGAIIISamplerConf,
    }
    for name, node in samplers.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=node, provider=provider)
    pruners = {"median": MedianPrunerConf, "hyperband": HyperbandPrunerConf, "none": NopPrunerConf}
    for name, node in pruners.items():
        store.store(group="hydra/sweeper/pruner", name=name, node=node, provider=provider)


register()
