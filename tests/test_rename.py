"""scripts/rename_project.py on a temporary copy of the tree, then the copy's own tests."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def tracked_copy(destination: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in filter(None, files.stdout.split("\0")):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    subprocess.run(["git", "add", "-A"], cwd=destination, check=True)
    return destination


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def rename(copy: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(copy / "scripts" / "rename_project.py"), name],
        cwd=copy,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def renamed(tmp_path_factory) -> Path:
    copy = tracked_copy(tmp_path_factory.mktemp("fork"))
    result = rename(copy, "leafnet")
    assert result.returncode == 0, result.stderr
    return copy


def test_rename_moves_and_rewrites_everything(renamed: Path) -> None:
    assert (renamed / "src" / "leafnet" / "train.py").is_file()
    assert (
        renamed / "src" / "hydra_plugins" / "leafnet_optuna_sweeper" / "optuna_sweeper.py"
    ).is_file()
    assert not (renamed / "src" / "tunelab").exists()
    assert 'name = "leafnet"' in (renamed / "pyproject.toml").read_text()
    assert "experiment: leafnet" in (renamed / "conf" / "tracking" / "mlflow.yaml").read_text()
    assert "LEAFNET_ROOT" in (renamed / "train.py").read_text()
    leftovers = subprocess.run(
        ["git", "grep", "-il", "tunelab"], cwd=renamed, capture_output=True, text=True
    )
    assert leftovers.stdout == ""


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("leafnet", "already named 'leafnet'"),
        ("my-net", "not a valid Python package name"),
        ("class", "not a valid"),
    ],
)
def test_second_run_or_bad_name_changes_nothing(renamed: Path, name: str, message: str) -> None:
    before = tree_digest(renamed)
    result = rename(renamed, name)
    assert result.returncode != 0 and message in result.stderr
    assert tree_digest(renamed) == before


def test_the_renamed_tree_passes_its_own_tests(renamed: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(renamed / "src")}
    env.pop("TUNELAB_ROOT", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "tests/test_config.py",
            "tests/test_train_run.py",
        ],
        cwd=renamed,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
