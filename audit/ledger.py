"""The append-only, hash-chained audit ledger on a file store (local or HDFS).

One record per file, ``ledger/{seq // 100000:07d}/{seq:012d}.json``, created exclusively: two
appenders racing for the same ``seq`` cannot both win, and the loser retries on top of the
winner. Nothing is ever overwritten or deleted. With an anchor (:mod:`audit.anchor`), each record
is also kept outside the store once it is written, and :meth:`AuditLedger.verify_anchored`
compares the two.
"""

from __future__ import annotations

import json
import logging
import socket
import getpass
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from audit.anchor import UNANCHORED, AnchorReport, LedgerAnchor, compare
from audit.canonical import canonical_bytes, record_hash
from audit.exceptions import AnchorMismatch, AuditError, HeadMoved, LedgerCorrupt
from adapters.files.base import FileStore
from adapters.files.exceptions import AlreadyExists

logger = logging.getLogger(__name__)

ROOT = "ledger"
GENESIS = "0" * 64
SHARD = 100_000
MAX_RACE_RETRIES = 50


def record_path(seq: int) -> str:
    return f"{ROOT}/{seq // SHARD:07d}/{seq:012d}.json"


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user database entry (containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class VerifyReport:
    records: int
    head_hash: str


class AuditLedger:
    def __init__(self, store: FileStore, anchor: LedgerAnchor | None = None) -> None:
        self._store, self.anchor = store, anchor

    def close(self) -> None:
        if self.anchor is not None:
            self.anchor.close()

    def __enter__(self) -> AuditLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _paths(self, after_seq: int = 0) -> list[tuple[int, str]]:
        found = []
        for shard in self._store.list_dirs(ROOT):
            if not shard.isdigit() or int(shard) < after_seq // SHARD:
                continue
            for info in self._store.list(f"{ROOT}/{shard}"):
                name = info.path.rsplit("/", 1)[-1]
                if name.endswith(".json") and name[:-5].isdigit() and int(name[:-5]) > after_seq:
                    found.append((int(name[:-5]), info.path))
        return sorted(found)

    def records(self) -> list[dict]:
        return self.records_after(0)

    def records_after(self, seq: int) -> list[dict]:
        """The records with a sequence number above ``seq``, in order (records never change, so
        a reader that folds the ledger reads each one once)."""
        return [json.loads(self._store.read(path)) for _, path in self._paths(seq)]

    def head(self) -> dict | None:
        paths = self._paths()
        return json.loads(self._store.read(paths[-1][1])) if paths else None

    def append(self, kind: str, payload: dict, inputs: dict, actor: str | None = None) -> dict:
        """Append one record and return it (with its ``seq`` and ``hash``)."""
        for _ in range(MAX_RACE_RETRIES):
            try:
                return self.append_after(self.head(), kind, payload, inputs, actor)
            except HeadMoved as e:
                logger.info("%s; retrying", e)
        raise AuditError(f"could not append after {MAX_RACE_RETRIES} races for the ledger head")

    def append_after(self, head: dict | None, kind: str, payload: dict, inputs: dict,
                     actor: str | None = None) -> dict:
        """Append one record directly after ``head`` (``None``: as the first record), or raise
        :class:`HeadMoved` if another appender got that place first. A caller that decided what
        to write from the ledger up to ``head`` uses this so the decision and the write are one
        atomic step: on :class:`HeadMoved` it reads the new records and decides again."""
        record = {
            "seq": 1 if head is None else head["seq"] + 1,
            "kind": kind,
            "created_at": datetime.now(tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": actor or default_actor(),
            "payload": payload,
            "inputs": inputs,
            "prev_hash": GENESIS if head is None else head["hash"],
        }
        record["hash"] = record_hash(record)
        if self.anchor is not None:
            self.anchor.ready()
        try:
            self._store.create_exclusive(record_path(record["seq"]), canonical_bytes(record))
        except AlreadyExists as e:
            raise HeadMoved(f"audit seq {record['seq']} was taken by a concurrent appender") from e
        if self.anchor is not None:
            # after the store's create: only the winner of a race for this seq is anchored
            self.anchor.publish([record])
        return record

    def verify(self) -> VerifyReport:
        """Recompute every hash and link; raise :class:`LedgerCorrupt` naming the first bad record."""
        return VerifyReport(len(chain := self._chain()), chain[-1][1] if chain else GENESIS)

    def verify_anchored(self) -> AnchorReport:
        """:meth:`verify`, then compare the chain with the anchor: raise :class:`AnchorMismatch`
        naming a rewritten chain, a cut-off tail, a deleted store or unanchored records."""
        anchor = self._require_anchor()
        chain = self._chain()
        found = compare(chain, anchor.anchored(), anchor.name)
        if found:
            raise AnchorMismatch(found.message)
        return AnchorReport(len(chain), *(chain[-1] if chain else (0, GENESIS)))

    def anchor_missing(self) -> list[dict]:
        """Anchor the store's records that the anchor lacks (records written before the ledger
        had an anchor, or by a writer that stopped between the two writes) and return them.
        Refuses when the store disagrees with the anchor in any other way."""
        anchor = self._require_anchor()
        chain = self._chain()
        anchored = anchor.anchored()
        found = compare(chain, anchored, anchor.name)
        if found and found.kind != UNANCHORED:
            raise AnchorMismatch(found.message)
        missing = [json.loads(self._store.read(record_path(seq))) for seq, _ in chain if seq not in anchored]
        anchor.publish(missing)
        return missing

    def _require_anchor(self) -> LedgerAnchor:
        if self.anchor is None:
            raise AuditError("this ledger has no anchor")
        return self.anchor

    def _chain(self) -> list[tuple[int, str]]:
        """``(seq, hash)`` of every record, each checked against its content and its predecessor."""
        chain: list[tuple[int, str]] = []
        prev = GENESIS
        for expected_seq, (seq, path) in enumerate(self._paths(), start=1):
            if seq != expected_seq:
                raise LedgerCorrupt(f"record {expected_seq} is missing (next file is {path})")
            data = self._store.read(path)
            try:
                record = json.loads(data)
            except ValueError as e:
                raise LedgerCorrupt(f"record {seq} ({path}) is not JSON: {e}") from e
            problem = _problem(record, seq, prev, data)
            if problem:
                raise LedgerCorrupt(f"record {seq} ({path}): {problem}")
            prev = record["hash"]
            chain.append((seq, prev))
        return chain


def _problem(record: Any, seq: int, prev: str, data: bytes) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    for key in ("seq", "kind", "created_at", "actor", "payload", "inputs", "prev_hash", "hash"):
        if key not in record:
            return f"field {key!r} is missing"
    if record["seq"] != seq:
        return f"holds seq {record['seq']} in the file of seq {seq}"
    if record["prev_hash"] != prev:
        return "prev_hash does not match the previous record's hash"
    try:
        if record_hash(record) != record["hash"]:
            return "hash does not match its content (the record was changed)"
        if canonical_bytes(record) != data:
            return "the file is not in canonical form"
    except AuditError as e:
        return str(e)
    return None
