"""The catalog on the audit ledger: each assignment is one ``ownership`` record.

:class:`CatalogStore` appends assignments and folds the ledger into a
:class:`~viewcount.ownership.Catalog`; :class:`CatalogView` keeps a folded catalog fresh for a
long-running reader (the API) by reading only the records appended since its last look.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from audit.exceptions import HeadMoved
from audit.kinds import OWNERSHIP, PAID_KINDS
from adapters.files.exceptions import StoreError
from audit.ledger import MAX_RACE_RETRIES, AuditLedger
from catalog.exceptions import AssignmentRefused, CatalogError
from viewcount import __version__
from viewcount.events import valid_id
from viewcount.ownership import Assignment, Catalog
from viewcount.timeutil import HOUR_MS, format_hour, month_key, parse_rfc3339_ms

logger = logging.getLogger(__name__)


def assignment_payload(video_id: str, creator_id: str, effective_from_ms: int) -> dict:
    return {"video_id": video_id, "creator_id": creator_id, "effective_from": format_hour(effective_from_ms)}


def assignment_of(record: dict) -> Assignment:
    p = record["payload"]
    return Assignment(p["video_id"], parse_rfc3339_ms(p["effective_from"]), record["seq"], p["creator_id"])


@dataclass
class LedgerFold:
    """What the catalog needs from the ledger: its assignments, the months already billed, the head."""

    head: dict | None = None
    assignments: list[Assignment] = field(default_factory=list)
    billed_months: set[str] = field(default_factory=set)

    def add(self, record: dict) -> None:
        self.head = record
        if record.get("kind") == OWNERSHIP:
            self.assignments.append(assignment_of(record))
        elif record.get("kind") in PAID_KINDS:
            self.billed_months.add(record["payload"]["period"])

    def catch_up(self, ledger: AuditLedger) -> list[Assignment]:
        """Fold the records after the head; return the assignments among them."""
        before = len(self.assignments)
        for record in ledger.records_after(self.head["seq"] if self.head else 0):
            self.add(record)
        return self.assignments[before:]


def check_assignment(video_id: str, creator_id: str, effective_from_ms: int, billed_months: set[str]) -> None:
    if not valid_id(video_id):
        raise AssignmentRefused(f"video id {video_id[:80]!r} must match ^[A-Za-z0-9_-]{{1,64}}$")
    if not valid_id(creator_id):
        raise AssignmentRefused(f"creator id {creator_id[:80]!r} must match ^[A-Za-z0-9_-]{{1,64}}$")
    if effective_from_ms % HOUR_MS:
        raise AssignmentRefused("effective_from must be a UTC hour, e.g. 2026-11-26T06:00:00Z")
    month = month_key(effective_from_ms)
    if month in billed_months:
        raise AssignmentRefused(f"{month} is already billed: an assignment from {format_hour(effective_from_ms)} "
                                f"would move paid views; correct a paid month with an adjustment (billing run) "
                                f"after assigning from the first hour of the next open month")


class CatalogStore:
    def __init__(self, ledger: AuditLedger) -> None:
        self.ledger = ledger

    def fold(self) -> LedgerFold:
        fold = LedgerFold()
        fold.catch_up(self.ledger)
        return fold

    def load(self) -> Catalog:
        return Catalog(self.fold().assignments)

    def assign(self, video_id: str, creator_id: str, effective_from_ms: int, actor: str | None = None) -> Assignment:
        """Append one assignment, checked against the ledger it is written after (a billing run
        racing it either sees it or finds its month billed)."""
        fold = self.fold()
        for _ in range(MAX_RACE_RETRIES):
            check_assignment(video_id, creator_id, effective_from_ms, fold.billed_months)
            try:
                record = self.ledger.append_after(
                    fold.head, OWNERSHIP, assignment_payload(video_id, creator_id, effective_from_ms),
                    {"code_version": __version__}, actor)
            except HeadMoved:
                fold.catch_up(self.ledger)
                continue
            logger.info("video %s assigned to %s from %s (audit seq %d)", video_id, creator_id,
                        format_hour(effective_from_ms), record["seq"])
            return assignment_of(record)
        raise CatalogError(f"could not append the assignment of {video_id} after {MAX_RACE_RETRIES} races")


class CatalogView:
    """The catalog as a long-running reader sees it: refreshed from the ledger at most every
    ``refresh_s`` seconds (records are immutable, so each is read once)."""

    def __init__(self, store: CatalogStore, refresh_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store, self._refresh_s, self._clock = store, refresh_s, clock
        self._lock = threading.Lock()
        self._fold = LedgerFold()
        self._catalog = Catalog()
        self._read_at: float | None = None

    def current(self) -> Catalog:
        """The catalog, read again when the last read is older than ``refresh_s``. A ledger that
        cannot be read keeps the last catalog (and says so) rather than failing every answer."""
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._refresh_s:
                try:
                    new = self._fold.catch_up(self._store.ledger)
                except StoreError as e:
                    if self._read_at is None:
                        raise CatalogError(f"the video catalog (audit ledger) cannot be read: {e}") from e
                    logger.warning("the video catalog could not be refreshed, keeping the last one: %s", e)
                else:
                    if new:
                        self._catalog = self._catalog.with_assignments(new)
                self._read_at = now
            return self._catalog

    def assign(self, video_id: str, creator_id: str, effective_from_ms: int, actor: str | None = None) -> Assignment:
        assignment = self._store.assign(video_id, creator_id, effective_from_ms, actor)
        with self._lock:
            self._read_at = None  # the next read includes it
        return assignment
