"""Canonical JSON (CONTRACT §7): sorted keys, UTF-8, no insignificant whitespace, no floats.

Floats are refused rather than rounded: money and counts in the ledger are integers or decimal
strings, so a record hashes the same everywhere.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from audit.exceptions import AuditError


def _check(value: Any, path: str = "$") -> None:
    if isinstance(value, float):
        raise AuditError(f"{path}: floats are not allowed in audit records (use a decimal string)")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise AuditError(f"{path}: keys must be strings")
            _check(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check(v, f"{path}[{i}]")


def canonical_bytes(record: dict) -> bytes:
    _check(record)
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_hash(record: dict) -> str:
    """SHA-256 (hex) of the record's canonical form without its ``hash`` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()
