"""A function run on a thread of its own, whose error is raised again where it is joined: a worker
that dies is the caller's error with its traceback, never a silent short count."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Background:
    def __init__(self, target: Callable[..., object], name: str | None = None, **kwargs) -> None:
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(target, kwargs), name=name, daemon=True)
        self._thread.start()

    def _run(self, target, kwargs) -> None:
        try:
            target(**kwargs)
        except BaseException as e:  # handed to the joining thread by join()
            self.error = e

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the function to return (at most ``timeout_s``); raise what it raised."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._thread.name} still running after {timeout_s:.0f}s")
        if self.error is not None:
            raise self.error
