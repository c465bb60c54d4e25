"""Failpoints: named places in the commit protocols where a process can be made to die, so a
test can kill it at each numbered step on purpose rather than at random moments.

``FAILPOINTS`` (a setting) names the points, comma-separated; a process reaching one of them
SIGKILLs itself there, as the kernel's OOM killer or a lost machine would: no ``finally``, no
flush, no goodbye to the group. Unset (the default), a failpoint is one set lookup.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable

logger = logging.getLogger(__name__)

SPEED_POINTS = ("speed.decoded", "speed.applied", "speed.before_kafka_commit")
SINK_POINTS = ("sink.encoded", "sink.dead_letters_sent", "sink.quarantine_written", "sink.fenced",
               "sink.committed", "sink.progress_written")
COMPACT_POINTS = ("compact.written", "compact.recorded")
ALL_POINTS = SPEED_POINTS + SINK_POINTS + COMPACT_POINTS


class Failpoints:
    def __init__(self, armed: Iterable[str] = ()) -> None:
        self.armed = frozenset(armed)
        unknown = sorted(self.armed - set(ALL_POINTS))
        if unknown:
            raise ValueError(f"unknown failpoints {', '.join(unknown)}; known: {', '.join(ALL_POINTS)}")

    @classmethod
    def parse(cls, text: str) -> Failpoints:
        return cls(p.strip() for p in text.split(",") if p.strip())

    def __call__(self, point: str) -> None:
        if point in self.armed:
            logger.critical("failpoint %s: killing this process", point)
            os.kill(os.getpid(), signal.SIGKILL)


NONE = Failpoints()
