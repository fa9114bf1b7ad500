"""A sweep's winner as an experiment config: it composes to exactly the trial's config."""

import shutil

import pytest
from omegaconf import OmegaConf

from tests.conftest import CONF
from tunelab.sweeps.promote import MARK, experiment_config, file_name, write_experiment

TRIAL = [  # a trial of hparams_search=digits_tpe, as its run's tag sweep.trial_overrides has it
    "hparams_search=digits_tpe",
    "trainer.max_epochs=4",
    "optimizer=sgd",
    "scheduler=cosine",
    "optimizer.lr=0.003489018845491387",
    "optimizer.weight_decay=0.00023423849847112912",
    "regularization.dropout=0.023225206359998862",
    "data.batch_size=32",
    "model.channels=[16,32]",
]


def job_config(conf, overrides: list[str]) -> dict:
    """The job's config as train.py composes it (Hydra's own node left out)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return OmegaConf.to_container(compose("train", overrides))


def test_the_promoted_experiment_composes_as_the_trial_did(tmp_path) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    defaults, values = experiment_config(TRIAL, conf)
    assert {"override /optimizer": "sgd"} in defaults
    assert values["trainer"]["max_epochs"] == 4  # the command line's, over the search's 15
    path = write_experiment(conf / "experiment", "digits_tpe", defaults, values, ["from a test"])
    assert path.name == "digits_tpe_best.yaml" and MARK in path.read_text().splitlines()[1]
    promoted = job_config(conf, [f"experiment={path.stem}"])
    trial = job_config(conf, TRIAL)
    promoted.pop("experiment", None), trial.pop("hparams_search", None)
    assert promoted == trial


def test_a_file_a_person_wrote_is_never_replaced(tmp_path) -> None:
    folder = tmp_path / "experiment"
    folder.mkdir()
    mine = folder / "digits_tpe_best.yaml"
    mine.write_text("# @package _global_\n# mine\nseed: 7\n")
    first = write_experiment(folder, "digits_tpe", [], {"seed": 1}, [])
    again = write_experiment(folder, "digits_tpe", [], {"seed": 2}, [])
    assert mine.read_text().endswith("seed: 7\n")  # untouched
    assert first == again == folder / "digits_tpe_best_2.yaml"  # tunelab's own is replaced
    assert again.read_text().endswith("seed: 2\n")


@pytest.mark.parametrize(
    ("sweep", "name"),
    [
        ("digits_tpe on digits 12-06 23:20:07", "digits_tpe"),
        ("sweep lr wd on houses 01-02 03:04:05", "sweep_lr_wd"),
    ],
)
def test_the_file_is_named_for_the_sweep(sweep: str, name: str) -> None:
    assert file_name(sweep) == name
