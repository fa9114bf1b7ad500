"""Ending the training process without Python's module teardown."""

import atexit
import os
import sys
import threading
from typing import NoReturn


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
