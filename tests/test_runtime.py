"""train.py skips module teardown only when it is the program itself, never under a wrapper."""

import sys

import pytest

from tunelab.runtime import started_as_script


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["python", "train.py", "-m", "optimizer.lr=1e-3,1e-4"], True),
        (["python", "-X", "importtime", "-u", "train.py"], True),
        (["python", "-m", "pyinstrument", "train.py"], False),
        (["python", "-m", "cProfile", "-o", "out", "train.py"], False),
        (["python", "-c", "import runpy"], False),
        (["python", "benchmarks/timed_tracking.py", "train.py"], False),
    ],
)
def test_started_as_script(monkeypatch, tmp_path, argv: list[str], expected: bool) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "orig_argv", argv)
    assert started_as_script(str(tmp_path / "train.py")) is expected
