"""The Python interpreter around a job: garbage collection and memory, its rank, signals, exit."""

import atexit
import functools
import gc
import importlib
import importlib.util
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn


@contextmanager
def imports_frozen_out_of_gc() -> Iterator[None]:
    """Import the training stack with the garbage collector off, then freeze what it left.

    torch, Lightning and torchmetrics leave millions of objects that live until exit, and
    every full collection walks all of them (up to 0.2 s each here): the collector ran nine
    of those, about 1 s, in a 3-epoch digits run, one inside the first epoch (measured).
    gc.freeze takes them out of its sight. Only the first job of a process freezes: later
    trials of a sweep import nothing new, and freezing could keep a finished trial's data.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
        # At exit Python frees what it can see; frozen objects it cannot, and triton's
        # bindings then print leak warnings.
        atexit.register(gc.unfreeze)


def import_lightning() -> ModuleType:
    """Import Lightning (torch and torchmetrics under it) without scipy.signal, which no job uses.

    torchmetrics 1.9's __init__ imports scipy.signal whenever scipy is installed, only to give
    SRMRpy back `scipy.signal.hamming` (torchmetrics #3457, fixed after 1.9). scipy.signal
    brings scipy.stats, .interpolate, .optimize and .spatial: 0.6-0.8 s of a 9 s run, more than
    anything else tunelab adds before training (measured, docs/performance.md). While
    torchmetrics imports, a stand-in answers the one name it checks; anything else asked of it
    loads the real module. Where SRMRpy is installed, or scipy.signal or torchmetrics already
    is, Lightning imports as it always does.
    """
    skip = "torchmetrics" in sys.modules or "scipy.signal" in sys.modules
    if skip or not importlib.util.find_spec("scipy") or importlib.util.find_spec("srmrpy"):
        return importlib.import_module("lightning")
    sys.modules["scipy.signal"] = stand_in = _SignalStandIn("scipy.signal")
    try:
        return importlib.import_module("lightning")
    finally:
        if sys.modules.get("scipy.signal") is stand_in:  # the next import loads the real one
            del sys.modules["scipy.signal"]


class _SignalStandIn(ModuleType):
    """scipy.signal while torchmetrics imports: `hamming` is there, so it patches nothing."""

    hamming = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # inspect.getmodule asks every module for __file__
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def release_memory() -> None:
    """Free a finished job's objects now and give the freed heap back to the system.

    Lightning's trainer, the module and the datamodule refer to one another, so only the
    cycle collector frees them, when its allocation counters next say so: in a sweep that
    was after the next trial had loaded its data, a whole data set too many (measured).
    """
    gc.collect()
    trim_heap()


def trim_heap() -> None:
    """Hand memory that is free but still held by the C allocator back to the system.

    glibc raises its mmap threshold each time a large block is freed, so later large
    temporaries (loading, standardising) come from the heap and stay resident after they are
    freed: about 90 MB on a 60,000-image set (measured). malloc_trim returns them. A no-op
    where the C library has no malloc_trim (macOS, musl).
    """
    with suppress(OSError, AttributeError):
        _libc().malloc_trim(0)


@functools.cache
def _libc() -> Any:
    """The C library, looked up once: find_library runs `ldconfig -p` in a subprocess."""
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def started_as_script(script: str) -> bool:
    """True when the interpreter was started on `script` itself (`python train.py ...`), not
    by a wrapper that has work left after it returns (python -m cProfile, pyinstrument, runpy)."""
    args = sys.orig_argv[1:]
    while args and args[0].startswith("-"):
        if args[0] in ("-m", "-c"):
            return False
        args = args[2:] if args[0] in ("-X", "-W") else args[1:]
    return bool(args) and Path(args[0]).resolve() == Path(script).resolve()


def exit_skipping_teardown(code: int = 0) -> NoReturn:
    """Exit once the job is done: threads joined, exit handlers run, output flushed, then
    os._exit. Tearing down torch, Lightning and their compiled extensions module by module
    takes about 1 s on a 2-core machine (measured) and leaves nothing a user needs."""
    # What the interpreter does first at exit: threading's exit hooks, which tell the
    # concurrent.futures pools (MLflow's artifact downloads) to stop, then a join of every
    # non-daemon thread. Joining alone waits forever on an idle pool worker.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()  # logging.shutdown (flushes the log file), multiprocessing, ...
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def process_rank() -> int:
    """This process's rank in a distributed run (0 when not distributed). The variables
    Lightning reads (lightning.fabric.utilities.rank_zero), read here before it is imported."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


# A sweep's trial leaves its own command line here for the processes Lightning starts for its
# other ranks (they inherit the environment): see distributed_rank_command.
TRIAL_COMMAND_ENV = "TUNELAB_TRIAL_COMMAND"


def remember_trial_command(overrides: list[str], output_dir: str) -> None:
    """This trial's overrides and folder, for the other ranks of its distributed job."""
    os.environ[TRIAL_COMMAND_ENV] = json.dumps({"overrides": overrides, "dir": output_dir})


def distributed_rank_command(argv: list[str]) -> list[str]:
    """The command line of a process Lightning started for rank 1+ of a sweep's trial: that
    trial alone. Lightning starts those ranks with the parent's command line plus
    hydra.run.dir (lightning.fabric's _hydra_subprocess_cmd); in a multirun that line is the
    whole sweep (-m and every swept value), which would open a parent run of its own and
    join other trials' process groups. Every other process: argv unchanged."""
    trial = os.environ.get(TRIAL_COMMAND_ENV)
    if process_rank() == 0 or not trial or not {"-m", "--multirun"} & set(argv):
        return argv
    recorded = json.loads(trial)
    lightning = [a for a in argv if a.startswith(("hydra.job.name=", "hydra.output_subdir="))]
    return [argv[0], *recorded["overrides"], f"hydra.run.dir={recorded['dir']}", *lightning]


# What Lightning sets in a process's environment when it starts a distributed job's processes.
DISTRIBUTED_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "RANK")


def distributed_env() -> dict[str, str]:
    return {k: os.environ[k] for k in DISTRIBUTED_ENV if k in os.environ}


def end_distributed(before: dict[str, str]) -> None:
    """After a job: its process group destroyed and the environment's distributed settings
    back to `before` (distributed_env() at its start), so that the next trial of a sweep in
    this process starts processes of its own. Lightning leaves both: the next trial then
    believes its processes were started for it (LOCAL_RANK is set) and waits for them."""
    distributed = sys.modules.get("torch.distributed")
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()
    for key in DISTRIBUTED_ENV:
        if key in before:
            os.environ[key] = before[key]  # a launcher's (torchrun, SLURM) settings stay
        else:
            os.environ.pop(key, None)


class Terminated(Exception):
    """SIGTERM arrived (a scheduler pre-empting the job, `kill`): the job stops as on Ctrl-C."""


# The stop signals this process received, in order (the job and the sweep callback read it).
received_signals: list[int] = []


def _on_sigterm(signum: int, frame: object) -> None:
    import signal

    received_signals.append(signum)
    if signal.getsignal(signal.SIGTERM) is not _on_sigterm:
        # Lightning's fit has wrapped this handler: its own sets a flag that its loops turn
        # into SIGTERMException between batches. Raising here, at any line, can be caught and
        # turned into another error (inspect wraps whatever it meets in TypeError).
        return
    raise Terminated("SIGTERM: the process was asked to stop")


def _on_sigint(signum: int, frame: object) -> None:
    received_signals.append(signum)
    raise KeyboardInterrupt


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While a job runs, SIGTERM and SIGINT are recorded and stop it: SIGINT raises
    KeyboardInterrupt; SIGTERM raises Terminated, except during fit, where Lightning's handler
    (which calls this one after its own) stops the loops between batches. The run then ends
    KILLED saying which signal, the on_exception callbacks save a checkpoint, and the process
    exits 128 + the signal's number (Lightning's own SIGTERM handling exits 0)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    import signal

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_signal_name() -> str | None:
    """SIGTERM or SIGINT when one stopped this process's job, else None."""
    import signal

    return signal.Signals(received_signals[-1]).name if received_signals else None


def this_process() -> str:
    """`host:pid`, as runs and trials record who runs them (process_gone reads it back)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(process_tag: str) -> bool:
    """True when `host:pid` names this host and no such process runs."""
    host, _, pid = process_tag.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's: it may still run
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False
