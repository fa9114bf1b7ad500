"""A RUNNING run's heartbeat: while it runs, its MLflow writer sets the tag tunelab.heartbeat
(the time, in ms) every tracking.heartbeat_seconds. A RUNNING run whose heartbeat stopped for
MISSED beats counts as dead, on any machine (its node was lost, it was killed without a signal):
resume= and a requeued job continue it, and the next sweep on the store ends it KILLED.
A run's status alone cannot tell that: only a process that ends can end its run."""

import time
from collections.abc import Mapping

BEAT_TAG = "tunelab.heartbeat"
EVERY_TAG = "tunelab.heartbeat_seconds"
MISSED = 4  # beats missed before a run counts as dead


def beat(seconds: float | None = None) -> dict[str, str]:
    """The tags of one beat; the first one also says how often the run beats."""
    tags = {BEAT_TAG: str(int(time.time() * 1000))}
    return {**tags, EVERY_TAG: str(seconds)} if seconds is not None else tags


def silent_for(tags: Mapping[str, str]) -> float | None:
    """Seconds since the run's last heartbeat; None when it never sent one."""
    last = tags.get(BEAT_TAG)
    return time.time() - int(last) / 1000 if last else None


def beat_age(tags: Mapping[str, str]) -> str | None:
    """ "its last heartbeat N s ago", for a message; None when it never sent one."""
    silent = silent_for(tags)
    return f"its last heartbeat {silent:.0f} s ago" if silent is not None else None


def is_dead(status: str, tags: Mapping[str, str]) -> bool:
    """A RUNNING run whose heartbeat stopped MISSED beats ago. A run that never beat (made
    before heartbeats, or with tracking.heartbeat_seconds=0) is not known to be dead."""
    silent, every = silent_for(tags), float(tags.get(EVERY_TAG) or 0)
    return status == "RUNNING" and silent is not None and every > 0 and silent > MISSED * every
