"""The Makefile's targets that need no environment: make clean."""

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it


def make_clean(folder) -> subprocess.CompletedProcess:
    # Not as a sub-make of `make test`: that one would print its Entering/Leaving lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(["make", "clean"], cwd=folder, env=env, capture_output=True, text=True)


def test_clean_removes_every_store_and_output_and_names_them(tmp_path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    generated = ["outputs/2026-01-01", "multirun/x", "mlruns/0", "mlartifacts/1", ".pytest_cache/v"]
    for folder in generated:
        (tmp_path / folder).mkdir(parents=True)
    for file in ("mlflow.db", "mlflow.db-wal", "data/MNIST/raw/t10k", ".venv/.installed"):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text("x")
    result = make_clean(tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("outputs", "multirun", "mlruns", "mlartifacts", "mlflow.db", "mlflow.db-wal"):
        assert not (tmp_path / name).exists(), name
        assert f"removed {name}" in result.stdout
    assert (tmp_path / "data/MNIST/raw/t10k").exists() and (tmp_path / ".venv").exists()
    again = make_clean(tmp_path)
    assert again.returncode == 0 and again.stdout == ""
