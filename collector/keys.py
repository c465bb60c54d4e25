"""Write keys (CONTRACT §8): ``COLLECTOR_KEYS_FILE`` maps the SHA-256 hex of each key to a source
name; keys themselves are never stored."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from collector.exceptions import CollectorConfigError

_DIGEST = re.compile(r"[0-9a-f]{64}")
_SOURCE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def load_write_keys(path: str) -> dict[str, str]:
    """``COLLECTOR_KEYS_FILE`` → {digest: source}; empty when no file is configured."""
    if not path:
        return {}
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CollectorConfigError(f"write keys file {path}: {e}") from e
    if not isinstance(raw, dict):
        raise CollectorConfigError(f"write keys file {path}: expected a JSON object of sha256 hex → source name")
    for digest, source in raw.items():
        if not _DIGEST.fullmatch(digest):
            raise CollectorConfigError(f"write keys file {path}: {digest[:16]!r}… is not a lowercase SHA-256 hex digest")
        if not isinstance(source, str) or not _SOURCE.fullmatch(source):
            raise CollectorConfigError(f"write keys file {path}: the source of {digest[:12]}… must match "
                                       f"^[A-Za-z0-9_.-]{{1,64}}$")
    return dict(raw)


def source_of(write_keys: dict[str, str], key: str | None) -> str | None:
    """The source name of a presented write key, or None (→ 401)."""
    if not key:
        return None
    return write_keys.get(hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest())
