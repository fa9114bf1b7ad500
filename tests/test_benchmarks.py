"""Each benchmark script runs end to end on a tiny budget and prints its table (no timing asserted)."""

import json
import os
import subprocess
import sys

import pytest

from benchmarks.run_all import SCRIPTS  # every benchmark `make bench` runs
from tests.conftest import ROOT

# Real jobs (make test-fast skips them); the benchmarks' own tier: make test-bench, not make test.
pytestmark = [pytest.mark.process, pytest.mark.bench]


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_prints_its_table(name: str, tmp_path) -> None:
    env = {**os.environ, "BENCH_OUT": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads((tmp_path / f"{name}.json").read_text())
    assert saved["rows"] and saved["machine"]
    first_column = next(iter(saved["rows"][0]))
    assert first_column in result.stdout and saved["title"] in result.stdout
