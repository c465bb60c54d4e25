"""Key files: a local JSON object mapping the SHA-256 hex digest of each secret key to a name (an
API key to its creator, CONTRACT §5; a write key to its source, §8). Keys themselves are never
stored.

:class:`KeyFile` is what a running process authenticates against: it re-reads the file when it
has changed (new inode, size or mtime), looking at most once per second, so an issued or revoked
key takes effect within a second, without a restart. A file that has become unreadable or
invalid is refused and the previous keys stay in force, with an error in the log. A file that
does not exist yet holds no keys until it is created.

Writers replace the file atomically (a temporary file renamed over it), readable by its owner
only (0600).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from adapters.files.exceptions import KeyFileError

logger = logging.getLogger(__name__)

DIGEST = re.compile(r"[0-9a-f]{64}")


def read_key_file(path: str, valid_name: Callable[[str], bool], what: str, name_kind: str = "name") -> dict[str, str]:
    """``path`` → {digest: name}, every entry checked; :class:`KeyFileError` names what is wrong."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise KeyFileError(f"{what} {path}: {e}") from e
    if not isinstance(raw, dict):
        raise KeyFileError(f"{what} {path}: expected a JSON object of sha256 hex → name")
    for digest, name in raw.items():
        if not DIGEST.fullmatch(digest):
            raise KeyFileError(f"{what} {path}: {digest[:16]!r}… is not a lowercase SHA-256 hex digest")
        if not isinstance(name, str) or not valid_name(name):
            raise KeyFileError(f"{what} {path}: {digest[:12]}… maps to {str(name)[:70]!r}, not a valid {name_kind}")
    return dict(raw)


def write_json_0600(path: str, content: dict) -> None:
    """Replace ``path`` with ``content`` as JSON, atomically, readable by its owner only."""
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=f".{target.name}.", delete=False) as f:
        json.dump(content, f, indent=1, sort_keys=True)
        f.write("\n")
    os.chmod(f.name, 0o600)
    os.replace(f.name, target)


class KeyFile:
    """The keys of a file as it is now: ``get(digest)`` → name, re-read when the file changed."""

    def __init__(self, path: str, valid_name: Callable[[str], bool], what: str, name_kind: str = "name",
                 check_every_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._path, self._valid, self._what, self._kind = path, valid_name, what, name_kind
        self._every, self._clock = check_every_s, clock
        self._seen = self._stamp()
        self._keys: dict[str, str] = {}
        if self._seen is None:   # not there yet: no key is accepted until it is
            logger.warning("%s %s does not exist yet: no key is accepted until it does", what, path)
        else:
            self._keys = read_key_file(path, valid_name, what, name_kind)   # a bad file at start is an error
        self._checked = clock()

    def get(self, digest: str) -> str | None:
        self._refresh()
        return self._keys.get(digest)

    def __len__(self) -> int:
        self._refresh()
        return len(self._keys)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _refresh(self) -> None:
        now = self._clock()
        if now - self._checked < self._every:
            return
        self._checked = now
        stamp = self._stamp()
        if stamp == self._seen:
            return
        try:
            keys = read_key_file(self._path, self._valid, self._what, self._kind)
        except KeyFileError as e:
            logger.error("%s; the previous %d keys stay in force", e, len(self._keys))
            return
        self._seen, self._keys = stamp, keys
        logger.info("%s %s reloaded: %d keys", self._what, self._path, len(keys))
