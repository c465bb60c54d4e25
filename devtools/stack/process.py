"""Start, find and stop one background process by its pid file."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


def _start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


@dataclass
class ManagedProcess:
    """A process known by ``pid_file``; its output goes to ``log_file``."""

    name: str
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        """The pid if the process we started is still running."""
        try:
            recorded = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        pid = recorded.get("pid")
        if not isinstance(pid, int) or _start_ticks(pid) != recorded.get("start_ticks"):
            return None
        return pid

    def start(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            child = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.pid_file.write_text(json.dumps({"pid": child.pid, "start_ticks": _start_ticks(child.pid)}))
        # The child is reaped by whoever waits on it; keep the handle so this process can.
        self._child = child
        logger.info("started %s (pid %d)", self.name, child.pid)
        return child.pid

    def alive(self) -> bool:
        child = getattr(self, "_child", None)
        if child is not None and child.poll() is not None:
            return False
        return self.pid() is not None

    def stop(self, timeout_s: float = 30.0, sig: int = signal.SIGTERM) -> bool:
        """Stop the process if it is ours and running; True if something was stopped."""
        pid = self.signal(sig)
        if pid is not None:
            self.wait_stopped(pid, timeout_s)
        return pid is not None

    def signal(self, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` to the process if it is ours and running; its pid, or None."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return None
        os.killpg(pid, sig)
        return pid

    def wait_stopped(self, pid: int, timeout_s: float = 30.0) -> None:
        """Wait for the signalled process ``pid`` to exit; kill it at the deadline."""
        deadline = time.monotonic() + timeout_s
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.alive():
            logger.warning("%s did not stop within %.0fs; killing it", self.name, timeout_s)
            os.killpg(pid, signal.SIGKILL)
            while self.alive():
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.2,
               still_running: Callable[[], bool] = lambda: True) -> bool:
    """Poll ``check`` until it is true, the deadline passes, or the process has died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception as e:  # a health probe failing is the normal "not yet"
            logger.debug("health probe: %s", e)
        if not still_running():
            return False
        time.sleep(interval_s)
    return False
