"""A layer that runs on a consumer group (the raw sink, the speed layer) together with the
clients it was built with, so whoever runs it closes them however the run ends."""

from __future__ import annotations

import gc
import sys
from typing import Protocol

# The cyclic collector runs when tracked allocations outnumber deallocations by its first
# threshold (700 by default). A layer makes a few tracked objects per record (the record, its
# decoded object) and buffers up to a range's worth of them, so at 100k records/s the default
# ran it hundreds of times a second, and each full collection walked every buffered record: a
# fifth of the raw sink's time. Its records form no cycles; what cycles there are (a failed
# request's traceback) wait at most 50,000 allocations.
COLLECTOR_THRESHOLDS = (50_000, 10, 10)
# The speed layer's step thread waits on Redis while the polling thread validates the next poll.
# When Redis answers, the step thread must take the interpreter back from the busy polling
# thread, which lets go only every switch interval: at the default 5 ms, Redis sat idle that long
# after each step (one process counted 74,500 events/s; at 1 ms, 91,200).
SWITCH_INTERVAL_S = 0.001


def tune_interpreter() -> None:
    """Set the process's interpreter for a layer's steady stream of short-lived records: the
    cyclic collector, and how often a busy thread hands over to one that waited on I/O."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL_S)


class _RunsOnAGroup(Protocol):
    def run(self, until_idle_s: float | None = None) -> None: ...

    def stop(self) -> None: ...


class _Closes(Protocol):
    def close(self) -> None: ...


class LayerProcess:
    def __init__(self, layer: _RunsOnAGroup, clients: list[_Closes]) -> None:
        self.layer = layer
        self._clients = clients

    def run(self, until_idle_s: float | None = None) -> None:
        """Run until stopped (or idle for ``until_idle_s`` with every partition done); then close
        the clients, also when the run raised."""
        try:
            self.layer.run(until_idle_s=until_idle_s)
        finally:
            for client in self._clients:
                client.close()

    def stop(self) -> None:
        """Ask the run to end (it drains what it holds first); safe from another thread."""
        self.layer.stop()
