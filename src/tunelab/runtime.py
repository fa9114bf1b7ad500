"""The Python interpreter around a job: garbage collection while libraries load, its rank, and exit."""

import atexit
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn


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
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
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
