"""The ledger's anchor: every record kept a second time, outside the audit store.

The hash chain makes a changed record visible, but whoever can write the audit store can
recompute every hash after the record they changed, or cut the tail off, or delete the store.
An anchor is an append-only copy held by a different system with different write rights: an
anchored record cannot be taken back, so comparing the store with its anchor shows each of those.

Records are anchored after they are written to the store (the store's exclusive create decides
which of two racing appenders gets a sequence number, so only the winner's record is ever
anchored). A writer that dies between the two leaves its record unanchored; the comparison
reports it, and ``viewcount audit anchor`` anchors it once someone has looked at it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class LedgerAnchor(ABC):
    """An append-only place that keeps each ledger record (seq, hash, canonical bytes)."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Where the anchor is, as an operator would look for it (``kafka topic viewcount.audit.v1``)."""

    def ready(self) -> None:
        """Raise :class:`~audit.exceptions.AnchorUnavailable` when records could not be anchored
        at all (the anchor does not exist): checked before a record is written to the store."""

    @abstractmethod
    def publish(self, records: Iterable[dict]) -> None:
        """Keep ``records`` durably; return only once every one is kept. Raises
        :class:`~audit.exceptions.AnchorUnavailable`."""

    def close(self) -> None:
        """Release the anchor's clients."""

    @abstractmethod
    def anchored(self) -> dict[int, set[str]]:
        """Every anchored record as ``seq → {hash, …}`` (one hash per seq unless the anchor itself
        was written to by something else). Raises :class:`~audit.exceptions.AnchorUnavailable`."""


@dataclass(frozen=True)
class AnchorReport:
    records: int              # records in the store, every one anchored
    head_seq: int
    head_hash: str


@dataclass(frozen=True)
class Disagreement:
    """How a ledger differs from its anchor: ``kind`` is one of :data:`KINDS`, ``message`` says
    it for an operator, naming the first sequence number concerned."""

    kind: str
    message: str


CONFLICT, DELETED, REWRITTEN, CUT_OFF, UNANCHORED = "conflict", "deleted", "rewritten", "cut-off", "unanchored"
KINDS = (CONFLICT, DELETED, REWRITTEN, CUT_OFF, UNANCHORED)


def compare(chain: list[tuple[int, str]], anchored: Mapping[int, set[str]], where: str) -> Disagreement | None:
    """How a chain that verified on its own (``(seq, hash)`` for seq 1, 2, …) differs from its
    anchor, or ``None`` when every record is anchored and nothing anchored is missing. Pure: the
    checks of ``audit verify --against-topic``, most serious first."""
    conflicting = sorted(seq for seq, hashes in anchored.items() if len(hashes) > 1)
    if conflicting:
        return Disagreement(CONFLICT, f"{where} holds two different records for seq {conflicting[0]}: something "
                                      f"other than the ledger wrote to the anchor; find out what before trusting either")
    anchor_head = max(anchored, default=0)
    if not chain and anchor_head:
        return Disagreement(DELETED, f"the audit store holds no records, but {where} holds {len(anchored)} up to "
                                     f"seq {anchor_head}: the store was deleted or AUDIT_STORE points at the wrong place")
    for seq, hash_ in chain:
        kept = anchored.get(seq)
        if kept is not None and hash_ not in kept:
            return Disagreement(REWRITTEN, f"record {seq} differs from the one in {where} (store {hash_[:16]}…, "
                                           f"anchored {next(iter(kept))[:16]}…): the chain was rewritten from seq {seq}")
    store_head = chain[-1][0] if chain else 0
    if anchor_head > store_head:
        return Disagreement(CUT_OFF, f"the audit store ends at seq {store_head} but {where} holds records up to "
                                     f"seq {anchor_head}: records {store_head + 1}..{anchor_head} were cut off the ledger")
    missing = [seq for seq, _ in chain if seq not in anchored]
    if missing:
        return Disagreement(UNANCHORED, f"{len(missing)} records are in the audit store but not in {where} (seq "
                                        f"{missing[0]}..{missing[-1]}): a writer stopped before anchoring them, or "
                                        f"they were added outside viewcount; check them, then `viewcount audit anchor`")
    return None
