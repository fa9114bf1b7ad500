"""The Makefile's targets that need no environment: make clean."""

import shutil
import subprocess

from tests.conftest import ROOT


def test_clean_removes_every_store_and_output_and_names_them(tmp_path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    generated = ["outputs/2026-01-01", "multirun/x", "mlruns/0", "mlartifacts/1", ".pytest_cache/v"]
    for folder in generated:
        (tmp_path / folder).mkdir(parents=True)
    for file in ("mlflow.db", "mlflow.db-wal", "data/MNIST/raw/t10k", ".venv/.installed"):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text("x")
    result = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in ("outputs", "multirun", "mlruns", "mlartifacts", "mlflow.db", "mlflow.db-wal"):
        assert not (tmp_path / name).exists(), name
        assert f"removed {name}" in result.stdout
    assert (tmp_path / "data/MNIST/raw/t10k").exists() and (tmp_path / ".venv").exists()
    again = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == ""
