"""Hydra sweep syntax becomes the right Optuna distributions; every sampler config works."""

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.tunelab_optuna_sweeper import config
from hydra_plugins.tunelab_optuna_sweeper._impl import tell_once
from hydra_plugins.tunelab_optuna_sweeper._search_space import (
    conditional_space,
    grid_of,
    split_search_space,
)
from tests.conftest import CONF
from tunelab.sweeps.choice_spaces import choice_space_problem, choice_spaces


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
        "gp": config.GPSamplerConf,
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


def digits_models_space():
    """conf/hparams_search/digits_models.yaml's space, with every choice's own (conf/search_space)."""
    params = OmegaConf.load(CONF / "hparams_search" / "digits_models.yaml").hydra.sweeper.params
    params = {str(k): str(v) for k, v in params.items()}
    spaces = choice_spaces(params, [CONF / "search_space"])
    searched, _ = space_of(params)
    return conditional_space(searched, spaces, OverridesParser.create()), spaces


@pytest.mark.parametrize("sampler", ["tpe", "random", "gp"])
def test_a_choice_brings_its_own_knobs_and_only_in_the_trials_that_pick_it(sampler) -> None:
    space, spaces = digits_models_space()
    assert {(s.group, s.choice) for s in spaces} >= {
        ("model", "mlp"),
        ("model", "cnn"),
        ("model", "resnet18"),
        ("optimizer", "sgd"),
        ("scheduler", "step"),
    }
    own = {(s.group, s.choice): set(s.knobs) for s in spaces}
    nodes = {
        "tpe": config.TPESamplerConf,
        "random": config.RandomSamplerConf,
        "gp": config.GPSamplerConf,
    }
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=instantiate(OmegaConf.structured(nodes[sampler])))
    picked = set()
    for number in range(24):
        trial = study.ask()
        params = space.sample(trial)
        expected = set(space.always)
        for group in ("model", "optimizer", "scheduler"):
            expected |= own.get((group, params[group]), set())
            picked.add((group, params[group]))
        assert set(params) == expected, params  # exactly the chosen choices' knobs
        for name in trial.params:  # a choice's knob is a param of its own: model.hidden_dim/mlp
            assert "/" not in name or name.endswith(f"/{params[name.split('.')[0]]}")
        tell_once(study, trial, values=float(number % 5))
    assert {("model", "mlp"), ("model", "cnn"), ("model", "resnet18")} <= picked


def test_a_search_narrows_a_choices_knob_which_stays_that_choices() -> None:
    params = {"model": "choice(mlp, cnn)", "model.hidden_dim": "choice(32)"}
    searched, _ = space_of(params)
    space = conditional_space(
        searched, choice_spaces(params, [CONF / "search_space"]), OverridesParser.create()
    )
    assert set(space.always) == {"model"}  # hidden_dim is the MLP's and the CNN's, not global
    for choice in ("mlp", "cnn"):
        assert space.by_choice[("model", choice)]["model.hidden_dim"].choices == (32,)


@pytest.mark.parametrize(
    ("space_file", "says"),
    [
        (
            "model.width: choice(32, 64)",
            "model.width does not exist under model=mlp (its keys there: _target_, hidden_dim, num_layers)",
        ),
        (
            "model.hidden_dim: 64",
            "model.hidden_dim: 64 is one value, not a space: write choice(64)",
        ),
    ],
)
def test_a_choices_space_that_cannot_work_is_one_line_naming_its_file(
    tmp_path, space_file, says
) -> None:
    import shutil

    from hydra import compose, initialize_config_dir

    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "search_space" / "model" / "mlp.yml").write_text(space_file + "\n")
    overrides = ["hparams_search=digits_models"]
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        config = compose("train", overrides, return_hydra_config=True)
        problem = choice_space_problem(config)
    assert (
        problem is not None
        and says in problem
        and str(conf / "search_space" / "model" / "mlp.yml") in problem
    )


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("hydra.sweeper.timeout=-5", "hydra.sweeper.timeout=-5: must be seconds above 0, or null"),
        (
            "hydra.sweeper.patience=0",
            "hydra.sweeper.patience=0: must be a whole number of trials above 0",
        ),
    ],
)
def test_a_budget_out_of_range_is_one_line(setting: str, says: str) -> None:
    from tests.conftest import search_problem

    assert says in search_problem(["hparams_search=digits_tpe", setting])


def test_a_warm_start_adds_the_runs_inside_the_space_as_complete_trials() -> None:
    from hydra_plugins.tunelab_optuna_sweeper._impl import trials_done
    from hydra_plugins.tunelab_optuna_sweeper._start import WARM_ATTR, add_runs

    params = {"optimizer.lr": "tag(log, interval(1e-4, 1e-1))", "optimizer": "choice(adam, sgd)"}
    searched, _ = space_of(params)
    space = conditional_space(searched, [], OverridesParser.create())
    base = {"optimizer": "adam", "trainer.max_epochs": "4", "objective.metric": "val/acc"}
    runs = [
        {"run_id": "a", "params": {**base, "optimizer.lr": "0.001"}, "objective": 0.9},
        {"run_id": "b", "params": {**base, "optimizer.lr": "0.5"}, "objective": 0.5},  # lr outside
        {
            "run_id": "c",
            "params": {**base, "optimizer": "rmsprop", "optimizer.lr": "0.01"},
            "objective": 0.6,
        },
        {
            "run_id": "d",
            "params": {**base, "optimizer.lr": "0.01", "trainer.max_epochs": "40"},
            "objective": 0.95,
        },
        {
            "run_id": "e",
            "params": {**base, "optimizer.lr": "0.01", "objective.metric": "val/loss"},
            "objective": 0.1,
        },
    ]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    objective = {"metric": "val/acc", "mode": "max"}
    assert add_runs(study, space, runs, {"trainer.max_epochs": "4"}, objective) == (1, 0, 4)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE and trial.user_attrs[WARM_ATTR] == "a"
    assert trial.params == {"optimizer.lr": 0.001, "optimizer": "adam"} and study.best_value == 0.9
    assert trials_done(study) == 0  # n_trials counts the trials this search runs
    assert add_runs(study, space, runs[:1], {}, objective) == (0, 0, 0)  # each run joins once
    pruned = {
        "run_id": "f",
        "params": runs[0]["params"] | {"optimizer.lr": "0.002"},
        "objective": 0.3,
    }
    pruned |= {"state": "pruned", "curve": {"0": 0.2, "1": 0.3}}
    assert add_runs(study, space, [pruned], {}, objective) == (0, 1, 0)
    assert study.trials[-1].state == optuna.trial.TrialState.PRUNED
    assert study.trials[-1].intermediate_values == {0: 0.2, 1: 0.3}


def test_the_current_config_is_the_first_trial_when_it_is_inside_the_space() -> None:
    from hydra import compose, initialize_config_dir

    from hydra_plugins.tunelab_optuna_sweeper._start import current_point

    space, _ = digits_models_space()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        config = compose("train", ["hparams_search=digits_models"], return_hydra_config=True)
        values, _ = current_point(space, config, {})
        assert values["model"] == "cnn" and values["optimizer.lr"] == 0.001
        assert values["model.channels/cnn"] == "[32,64]" and "model.num_layers/mlp" not in values
        mlp = {"model": "mlp", "model.hidden_dim": 64, "model.num_layers": 2, "optimizer.lr": 0.01}
        picked = current_point(space, config, mlp)[0]
        assert picked["model.num_layers/mlp"] == 2 and picked["optimizer.lr"] == 0.01
        assert current_point(space, config, {"model": "mlp"}) is None  # the MLP's knobs unsaid
        assert current_point(space, config, {"optimizer.lr": 5.0}) is None  # outside


def test_a_choice_can_pick_in_another_group_whose_choices_bring_theirs(tmp_path) -> None:
    """Nesting: SGD's space picks a scheduler; the step schedule's knobs come only under it."""
    folder = tmp_path / "search_space"
    (folder / "optimizer").mkdir(parents=True)
    (folder / "scheduler").mkdir()
    (folder / "optimizer" / "sgd.yml").write_text("scheduler: choice(constant, step)\n")
    (folder / "scheduler" / "step.yml").write_text("scheduler.step_size: range(2, 5)\n")
    params = {"optimizer": "choice(adam, sgd)"}
    searched, _ = space_of(params)
    space = conditional_space(searched, choice_spaces(params, [folder]), OverridesParser.create())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        values = space.sample(trial)
        expected = {"optimizer"}
        if values["optimizer"] == "sgd":
            expected.add("scheduler")
            if values["scheduler"] == "step":
                expected.add("scheduler.step_size")
        assert set(values) == expected, values
        seen.add(tuple(sorted(values)))
        tell_once(study, trial, values=0.0)
    assert len(seen) == 3  # adam alone; sgd with constant; sgd with step and its step size


def test_a_space_file_named_yaml_is_one_line_saying_yml(tmp_path) -> None:
    import shutil

    from hydra import compose, initialize_config_dir

    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "search_space" / "model" / "mlp.yml").rename(
        conf / "search_space" / "model" / "mlp.yaml"
    )
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        config = compose("train", ["hparams_search=digits_models"], return_hydra_config=True)
        problem = choice_space_problem(config)
    assert problem is not None and problem.startswith(
        str(conf / "search_space" / "model" / "mlp.yaml")
    )
    assert "name it mlp.yml" in problem


def test_a_launch_that_meets_joblibs_executor_race_is_launched_again() -> None:
    """joblib#1794: two slots creating joblib's reusable executor at once; the job never ran."""
    from hydra_plugins.tunelab_optuna_sweeper._impl import launch_once

    class Racing:
        calls = 0

        def launch(self, overrides, initial_job_idx):
            self.calls += 1
            if self.calls == 1:
                raise AttributeError(
                    "'MemmappingExecutor' object has no attribute '_temp_folder_manager'"
                )
            return [f"ran {overrides[0]} as job {initial_job_idx}"]

    launcher = Racing()
    assert launch_once(launcher, [["a=1"]], 3) == ["ran ['a=1'] as job 3"] and launcher.calls == 2
    with pytest.raises(AttributeError, match="other"):
        launch_once(
            type(
                "Broken",
                (),
                {"launch": lambda *a, **k: (_ for _ in ()).throw(AttributeError("other"))},
            )(),
            [[]],
            0,
        )


def test_slots_run_at_once_only_on_a_launcher_that_starts_other_processes() -> None:
    """Two slots on a launcher that runs its jobs in this process would run two trials at once
    in one working folder and one Hydra state: joblib with one worker runs them here too."""
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

    from hydra_plugins.tunelab_optuna_sweeper._impl import runs_jobs_concurrently

    assert not runs_jobs_concurrently(BasicLauncher())
    assert not runs_jobs_concurrently(JoblibLauncher(n_jobs=1))
    assert runs_jobs_concurrently(JoblibLauncher(n_jobs=2))
