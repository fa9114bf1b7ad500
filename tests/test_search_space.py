"""Hydra sweep syntax becomes the right Optuna distributions; every sampler config works."""

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.tunelab_optuna_sweeper import config
from hydra_plugins.tunelab_optuna_sweeper._impl import tell_once
from hydra_plugins.tunelab_optuna_sweeper._search_space import grid_of, split_search_space


def space_of(params: dict[str, str], arguments: list[str] = ()):
    return split_search_space(params, list(arguments), OverridesParser.create())


def test_each_sweep_form_maps_to_its_distribution() -> None:
    space, fixed = space_of(
        {
            "optimizer.lr": "tag(log, interval(1e-5, 1e-1))",
            "regularization.dropout": "interval(0.0, 0.5)",
            "model.hidden_dim": "int(interval(16, 256))",
            "model.num_layers": "range(1, 4)",
            "data.batch_size": "choice(32, 64, 128)",
            "optimizer": "choice(adam, sgd)",
            "trainer.max_epochs": "5",
        }
    )
    assert space["optimizer.lr"] == FloatDistribution(1e-5, 1e-1, log=True)
    assert space["regularization.dropout"] == FloatDistribution(0.0, 0.5)
    assert space["model.hidden_dim"] == IntDistribution(16, 256)
    assert space["model.num_layers"] == IntDistribution(1, 3)  # range's stop is excluded
    assert space["data.batch_size"] == CategoricalDistribution([32, 64, 128])
    assert space["optimizer"] == CategoricalDistribution(["adam", "sgd"])
    assert fixed == ["trainer.max_epochs=5"]


def test_command_line_wins_over_params() -> None:
    space, fixed = space_of({"optimizer.lr": "interval(0.1, 0.2)"}, ["optimizer.lr=0.05", "seed=1"])
    assert space == {}
    assert fixed == ["optimizer.lr=0.05", "seed=1"]


def test_grid_needs_finite_values() -> None:
    space, _ = space_of({"a": "choice(1, 2)", "b": "range(0, 6, 2)"})
    assert grid_of(space) == {"a": [1, 2], "b": [0, 2, 4]}
    continuous, _ = space_of({"lr": "interval(0.1, 0.2)"})
    with pytest.raises(ValueError, match="sampler=grid cannot search lr"):
        grid_of(continuous)


@pytest.mark.parametrize("name", ["tpe", "random", "grid", "cmaes", "qmc"])
def test_every_sampler_config_asks_trials_in_the_space(name: str) -> None:
    nodes = {
        "tpe": config.TPESamplerConf,
        "random": config.RandomSamplerConf,
        "grid": config.GridSamplerConf,
        "cmaes": config.CmaEsSamplerConf,
        "qmc": config.QMCSamplerConf,
    }
    if name == "grid":
        space, _ = space_of({"x": "choice(1, 2, 3)", "y": "range(0, 2)"})
        sampler = instantiate(OmegaConf.structured(nodes[name]), search_space=grid_of(space))
    else:
        space, _ = space_of({"x": "interval(-1.0, 1.0)", "y": "int(interval(0, 4))"})
        sampler = instantiate(OmegaConf.structured(nodes[name]))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler, direction="minimize")
    seen = []
    for _ in range(6):
        trial = study.ask(space)
        seen.append(tuple(trial.params.values()))
        tell_once(study, trial, values=float(trial.params["x"]) ** 2)
    for x, y in seen:
        assert space["x"]._contains(space["x"].to_internal_repr(x))
        assert space["y"]._contains(space["y"].to_internal_repr(y))
    if name == "grid":
        assert len(set(seen)) == 6  # every grid point once


@pytest.mark.parametrize("name", ["median", "hyperband", "none"])
def test_every_pruner_config_builds(name: str) -> None:
    nodes = {
        "median": config.MedianPrunerConf,
        "hyperband": config.HyperbandPrunerConf,
        "none": config.NopPrunerConf,
    }
    assert isinstance(instantiate(OmegaConf.structured(nodes[name])), optuna.pruners.BasePruner)
