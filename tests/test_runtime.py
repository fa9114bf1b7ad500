"""The interpreter around a job: teardown skipped only when train.py is the program itself, the
imports frozen out of the collector once, Lightning imported without what no job uses."""

import sys

import pytest

from tunelab.cli.runtime import started_as_script


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


FREEZE_TWICE = """
import gc, weakref
from tunelab.cli.runtime import imports_frozen_out_of_gc

class Node:
    pass

with imports_frozen_out_of_gc():
    assert not gc.isenabled()  # no collection while the libraries load
    import json  # noqa: F401
frozen = gc.get_freeze_count()
assert frozen > 0 and gc.isenabled()

trial = Node(); trial.me = trial  # a finished trial's objects, alive only through a cycle
alive = weakref.ref(trial)
with imports_frozen_out_of_gc():  # the next trial of a sweep in this process
    pass
del trial
gc.collect()
assert gc.get_freeze_count() == frozen, "froze again"
assert alive() is None, "a finished trial's objects were kept"
print("ok")
"""


def test_gc_freezes_the_imports_once_and_never_a_trials_objects() -> None:
    import subprocess

    out = subprocess.run([sys.executable, "-c", FREEZE_TWICE], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


LIGHTNING_WITHOUT_SIGNAL = """
import sys
from tunelab.cli.runtime import import_lightning

import_lightning()
import torchmetrics  # noqa: F401  (imported by Lightning: the one that asked for scipy.signal)
print("scipy.signal" in sys.modules, "scipy.stats" in sys.modules)
import scipy.signal  # asked for later, it is the real module

print(scipy.signal.windows.hamming(3).round(2).tolist(), type(scipy.signal).__name__)
"""


def test_lightning_imports_without_scipy_signal_and_it_still_loads_when_asked() -> None:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", LIGHTNING_WITHOUT_SIGNAL], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["False False", "[0.08, 1.0, 0.08] module"]
