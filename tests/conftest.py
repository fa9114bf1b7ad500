"""Shared helpers: run the real entry point in a subprocess against a temporary store."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

# make test runs the tests in parallel workers, one per core, and most of them start
# `python train.py` processes: one compute thread each keeps them from fighting over the cores
# (the tiny models train no slower on one).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# MLflow 3 sends usage records to its telemetry service from a background thread, unless it sees
# a CI or pytest variable when it is imported; a worker imports it while collecting, before
# pytest sets PYTEST_CURRENT_TEST. Tests reach no network: say so before anything imports it.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# Small budgets that still train for real.
TINY = ["trainer.max_epochs=2", "print_config=false", "callbacks.progress_bar=null"]


def run_entry(
    args: list[str], root: Path, script: str = "train.py", check: bool = True, timeout: int = 300
) -> subprocess.CompletedProcess:
    """`python train.py ARGS` with its outputs, data folder and MLflow store under `root`."""
    env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return succeeded(result, script, args) if check else result


def succeeded(
    result: subprocess.CompletedProcess, script: str, args: list[str]
) -> subprocess.CompletedProcess:
    """`result`, when the script exited 0; otherwise AssertionError with the ends of its output."""
    if result.returncode != 0:
        raise AssertionError(
            f"{script} {args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


def run_in_process(
    args: list[str],
    root: Path,
    script: str = "train.py",
    check: bool = True,
    inline_writer: bool = True,
) -> subprocess.CompletedProcess:
    """What run_entry does, in this process: the script runs as __main__ (Hydra, the sweeper
    and its trials, the summary) with its output captured, and the MLflow writer inline
    (unless ARGS name one, or inline_writer=False for a run whose overrides must match an
    earlier one's). No interpreter start, no imports to pay (a 4-trial sweep in about 3 s
    instead of 10). For the tests not about the process itself: signals, the writer process,
    what a process imports and how it exits keep run_entry."""
    import io
    import logging
    import runpy
    import signal
    import traceback
    import warnings

    if inline_writer and not any(a.startswith("tracking.writer=") for a in args):
        args = [*args, "tracking.writer=inline"]
    saved = (dict(os.environ), os.getcwd(), sys.argv, logging.root.handlers[:], logging.root.level)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    loggers = _loggers_as_they_are()  # a trial quiets libraries' loggers for its process
    logging.root.handlers.clear()  # as in a new process: no handler until Hydra's
    os.environ["TUNELAB_ROOT"] = str(root)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    try:
        os.chdir(root)
        sys.argv = [str(ROOT / script), *args]
        at_exit: list = []  # what the job leaves to the interpreter's exit, run below
        with (
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            try:
                with _exit_handlers_kept(at_exit):
                    runpy.run_path(str(ROOT / script), run_name="__main__")
            except SystemExit as stop:  # what the interpreter does with it at exit
                if isinstance(stop.code, str):
                    print(stop.code, file=sys.stderr)
                code = stop.code if isinstance(stop.code, int) else (stop.code is not None)
            except Exception:
                traceback.print_exc()
                code = 1
            for function, arguments, keywords in reversed(at_exit):
                function(*arguments, **keywords)
    finally:
        environ, cwd, sys.argv, root_handlers, level = saved
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(cwd)
        logging.root.handlers[:] = root_handlers
        logging.root.setLevel(level)
        for number, handler in handlers.items():
            signal.signal(number, handler)
        for logger, (level, kept, propagate, disabled) in loggers.items():
            logger.setLevel(level)
            logger.handlers[:] = kept
            logger.propagate, logger.disabled = propagate, disabled
    result = subprocess.CompletedProcess(
        [script, *args], int(code), stdout.getvalue(), stderr.getvalue()
    )
    return succeeded(result, script, args) if check else result


def _loggers_as_they_are() -> dict:
    """Every named logger's level, handlers, propagation and disabled flag, to put back."""
    import logging

    return {
        logger: (logger.level, logger.handlers[:], logger.propagate, logger.disabled)
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    }


@contextlib.contextmanager
def _exit_handlers_kept(kept: list):
    """atexit.register and unregister, collecting into `kept` for this process to run when
    the job is over (as the interpreter would at a real process's exit)."""
    import atexit
    from unittest import mock

    def register(function, *arguments, **keywords):
        kept.append((function, arguments, keywords))
        return function

    def unregister(function) -> None:
        kept[:] = [entry for entry in kept if entry[0] != function]

    with (
        mock.patch.object(atexit, "register", register),
        mock.patch.object(atexit, "unregister", unregister),
    ):
        yield


def store_uri(root: Path) -> str:
    return f"sqlite:///{root}/mlflow.db"


def train_in_process(overrides: list[str], root: Path):
    """What `python train.py OVERRIDES` does, the job and the task, in this process: no
    interpreter start and no imports to pay (about 1 s instead of 6 for a small run). MLflow
    works inline; outputs, data and the store are under `root`. Returns the finished Job."""
    from tunelab.jobs.specs import TRAIN
    from tunelab.jobs.wrapper import run_job

    cfg = compose_config(
        [
            f"paths.root_dir={root}",
            f"tracking.uri={store_uri(root)}",
            "tracking.writer=inline",
            *TINY,
            *overrides,
        ],
        output_dir=str(root / "outputs" / "in-process"),
    )
    return run_job(cfg, TRAIN)


def job_in_process(job: str, overrides: list[str], output_dir: Path):
    """What `python eval.py OVERRIDES` (job=eval) or export.py does, in this process, with
    MLflow inline and its outputs in `output_dir`. Returns the finished Job (its results)."""
    from tunelab.jobs import specs
    from tunelab.jobs.wrapper import run_job
    from tunelab.training.rerun import compose_train

    cfg = compose_train(["tracking.writer=inline", *overrides], str(output_dir), job)
    return run_job(cfg, {"eval": specs.EVAL, "export": specs.EXPORT}[job])


def in_store(root: Path) -> list[str]:
    """The overrides that put a job's data, outputs and MLflow store under `root`."""
    return [f"paths.root_dir={root}", f"tracking.uri={store_uri(root)}"]


def script_refused(args: list[str], root: Path, script: str) -> str:
    """The stderr of `python SCRIPT ARGS` that a user error stopped: one line, no traceback."""
    result = run_entry(args, root, script=script, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    return result.stderr


def job_refused(job: str, overrides: list[str], output_dir: Path) -> str:
    """The one line a user error ends an eval or export job with, in this process (what the
    entry point prints on stderr): the job must stop with SystemExit("tunelab: ...")."""
    with pytest.raises(SystemExit) as stopped:
        job_in_process(job, overrides, output_dir)
    line = str(stopped.value.code)
    assert line.startswith("tunelab: ") and "\n" not in line, line
    return line


def training_refused(overrides: list[str], root: Path) -> str:
    """The one line a user error ends `python train.py OVERRIDES` with, in this process, and
    the store under `root` left without any run (the job stopped before training)."""
    from mlflow import MlflowClient

    with pytest.raises(SystemExit) as stopped:
        train_in_process(overrides, root)
    line = str(stopped.value.code)
    assert line.startswith("tunelab: ") and "\n" not in line, line
    client = MlflowClient(store_uri(root))
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert client.search_runs(experiments) == []  # nothing left half-made in the store
    return line


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One real `python train.py` run of the default config on a tiny budget, shared by the
    tests that need a trained model in a store: (result, client, the run)."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("trained")
    # The console's defaults (progress bar, no config tree): its line budget is a user's.
    result = run_entry(["trainer.max_epochs=2", "tracking.experiment=test-exp"], root)
    client = MlflowClient(store_uri(root))
    experiment = client.get_experiment_by_name("test-exp")
    return result, client, client.search_runs([experiment.experiment_id])


@pytest.fixture
def client_for():
    from mlflow import MlflowClient

    return lambda root: MlflowClient(store_uri(root))


def compose_config(overrides: list[str], output_dir: str = "/tmp/tunelab-compose"):
    """The resolved train config, as `python train.py OVERRIDES` would see it, composed in-process."""
    from tunelab.training.rerun import compose_train

    return compose_train(overrides, output_dir)


def search_problem(overrides: list[str]) -> str:
    """What the sweep callback says of a search composed from `overrides` before any trial
    (tunelab.sweeps.callback.search_error), "" when nothing. It runs inside Hydra's context:
    a choice space composes its choices there."""
    from hydra import compose, initialize_config_dir

    from tunelab.sweeps.callback import search_error

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        config = compose("train", overrides, return_hydra_config=True)
        return search_error(config) or ""


def png_width(path) -> int:
    """The width in pixels of a PNG file (its IHDR header)."""
    import struct

    with open(path, "rb") as file:
        header = file.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">I", header[16:20])[0]


def pytest_collection_modifyitems(items: list) -> None:
    """The tests that run whole jobs or services first, the quick ones last: xdist's workers
    then end together, stealing quick tests from each other, instead of one worker still
    running a 30 s sweep while the other has nothing left (measured: an 18 s tail)."""
    slow = {"process", "service"}
    items.sort(key=lambda item: not slow & {mark.name for mark in item.iter_markers()})
