"""A layer that runs on a consumer group (the raw sink, the speed layer) together with the
clients it was built with, so whoever runs it closes them however the run ends."""

from __future__ import annotations

from typing import Protocol


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
