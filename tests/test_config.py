"""Every config group choice composes; bad overrides fail fast with Hydra's message."""

import subprocess
import sys

import pytest
from hydra.core.hydra_config import HydraConfig

from tests.conftest import CONF, ROOT, compose_config

GROUPS = [
    "data",
    "model",
    "optimizer",
    "scheduler",
    "regularization",
    "trainer",
    "callbacks",
    "tracking",
]


def choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


def compose_resolved(overrides: list[str]):
    return compose_config(overrides)


@pytest.mark.parametrize(
    ("group", "choice"), [(g, c) for g in GROUPS for c in choices(g)], ids=lambda v: str(v)
)
def test_every_choice_composes(group: str, choice: str) -> None:
    cfg = compose_resolved([f"{group}={choice}"])
    assert HydraConfig.get().runtime.choices[group] == choice
    assert cfg.seed == 42


def test_default_config() -> None:
    cfg = compose_resolved([])
    choices_made = HydraConfig.get().runtime.choices
    assert (choices_made["data"], choices_made["model"], choices_made["optimizer"]) == (
        "digits",
        "cnn",
        "adam",
    )
    assert cfg.objective.metric == "val/acc"
    assert cfg.tracking.uri.startswith("sqlite:///")


def run_quick(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "train.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def imported_modules(stderr: str) -> set[str]:
    return {
        line.split("|")[-1].strip().split(".")[0] for line in stderr.splitlines() if "|" in line
    }


def test_unknown_choice_lists_the_valid_ones() -> None:
    result = run_quick("model=vit")
    assert result.returncode != 0
    assert "Could not find 'model/vit'" in result.stderr
    assert "cnn" in result.stderr and "mlp" in result.stderr
    assert "torch" not in imported_modules(result.stderr)


def test_unknown_key_fails() -> None:
    result = run_quick("optimizer.lrr=0.1")
    assert result.returncode != 0
    assert "lrr" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["--cfg", "job"]])
def test_non_training_commands_do_not_import_torch(args: list[str]) -> None:
    result = run_quick(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    modules = imported_modules(result.stderr)
    assert "hydra" in modules
    assert not {"torch", "lightning", "mlflow"} & modules
    if args == ["--help"]:  # what every data set shares is not a data set of its own
        assert "data: ag_news, cifar10, csv," in result.stdout and "_shared" not in result.stdout
        assert "search_space" not in result.stdout  # a choice's search space is no group


@pytest.mark.parametrize("job", ["eval", "export"])
def test_eval_and_export_write_in_their_own_folders(job: str) -> None:
    """Where the README says: outputs/eval/DATE/TIME, outputs/export/DATE/TIME (and multirun/)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(job, return_hydra_config=True)
    assert f"/outputs/{job}/" in cfg.hydra.run.dir  # resolved: ROOT/outputs/eval/DATE/TIME
    assert f"/multirun/{job}/" in cfg.hydra.sweep.dir


def test_tab_completion_offers_choices_and_keys() -> None:
    import os

    def complete(line: str) -> str:
        env = {**os.environ, "COMP_LINE": line, "COMP_POINT": str(len(line))}
        result = subprocess.run(
            [sys.executable, "train.py", "-sc", "query=bash"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        return result.stdout

    assert set(complete("python train.py optimizer=").split()) >= {
        "optimizer=adam",
        "optimizer=sgd",
        "optimizer=lbfgs",
    }
    assert "optimizer.lr=" in complete("python train.py optimizer.l")
    script = subprocess.run(
        [sys.executable, "train.py", "-sc", "install=bash"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "hydra_bash_completion" in script.stdout


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ([], "cnn-adam-lr0.001 on digits"),
        (["data=csv", "data.source.path=/d/houses.csv", "model=mlp"], "mlp-adam-lr0.001 on houses"),
        (
            ["data=image_folder", "data.source.root=/d/leaves/", "optimizer.lr=0.01"],
            "cnn-adam-lr0.01 on leaves",
        ),
    ],
)
def test_run_names_say_what_data_they_trained_on(overrides: list[str], name: str) -> None:
    """Two runs of the same recipe on two data sets tell apart in the run list."""
    from tunelab.tracking.identity import data_label, run_name

    cfg = compose_resolved(overrides)
    choices = dict(HydraConfig.get().runtime.choices)
    data = data_label(cfg, choices["data"])
    assert run_name(choices, cfg.optimizer.lr, None, data) == name
