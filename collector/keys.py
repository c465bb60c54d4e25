"""Write keys (CONTRACT §8): ``COLLECTOR_KEYS_FILE`` maps the SHA-256 hex of each key to a source
name; keys themselves are never stored. A running collector follows changes to the file within a
second (:mod:`adapters.files.keyfile`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from adapters.files.exceptions import KeyFileError
from adapters.files.keyfile import KeyFile, read_key_file
from collector.exceptions import CollectorConfigError

_SOURCE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SOURCE_RULE = "source name (^[A-Za-z0-9_.-]{1,64}$)"


def load_write_keys(path: str, reload: bool = False) -> Mapping[str, str] | KeyFile:
    """``COLLECTOR_KEYS_FILE`` → {digest: source}; empty when no file is configured. With
    ``reload``, a :class:`KeyFile` that follows changes to the file within a second."""
    if not path:
        return {}
    try:
        if reload:
            return KeyFile(path, _valid_source, "write keys file", SOURCE_RULE)
        return read_key_file(path, _valid_source, "write keys file", SOURCE_RULE)
    except KeyFileError as e:
        raise CollectorConfigError(str(e)) from e


def _valid_source(name: str) -> bool:
    return _SOURCE.fullmatch(name) is not None


def source_of(write_keys: Mapping[str, str] | KeyFile, key: str | None) -> str | None:
    """The source name of a presented write key, or None (→ 401)."""
    if not key:
        return None
    return write_keys.get(hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest())
