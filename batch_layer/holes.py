"""No holes in the master dataset (CONTRACT §4): before a version is computed, each partition's
stored offsets must run without a gap from the first the sink ever stored to the last it has
flushed. A deleted or lost raw file would otherwise be published as fewer views, and billing
would pay less without anything saying why."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.files.base import FileStore
from adapters.files.rawdata import range_files, read_origin, read_progress
from audit.kinds import HOLE_ACCEPTED
from batch_layer.exceptions import DatasetHole
from viewcount.rawdata import RangeFile, gaps

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hole:
    partition: int
    first: int
    last: int

    def replay_command(self) -> str:
        return f"viewcount ingest replay --partition {self.partition} --from-offset {self.first} --to-offset {self.last}"


def find_holes(store: FileStore, topic: str, partitions: list[int], accepted: Sequence[Hole] = ()) -> list[Hole]:
    """The offset ranges no views file covers, between each partition's origin (its first stored
    offset; the first file present for a dataset that predates the record) and its flushed offset.
    ``accepted``: holes an operator accepted as lost (`batch accept-hole`), counted as covered."""
    found = []
    files = range_files(store, topic) + [RangeFile(h.partition, h.first, h.last, 0, topic) for h in accepted]
    for p in partitions:
        progress = read_progress(store, topic, p)
        mine = [f for f in files if f.partition == p]
        if progress is None or not mine:
            if progress is not None and progress.flushed_offset >= 0:
                found.append(Hole(p, read_origin(store, topic, p) or 0, progress.flushed_offset))
            continue
        origin = read_origin(store, topic, p)
        if origin is None:
            origin = mine[0].first
            logger.info("%s-%d has no recorded origin (written before the sink recorded one): checking from "
                        "its first file, offset %d", topic, p, origin)
        found += [Hole(p, a, b) for a, b in gaps(mine, origin, progress.flushed_offset)]
    return found


def require_no_holes(store: FileStore, topic: str, partitions: list[int], accepted: Sequence[Hole] = ()) -> None:
    """Raise :class:`DatasetHole` naming every hole and the command that fills it."""
    holes = find_holes(store, topic, partitions, accepted)
    if holes:
        listed = "; ".join(f"partition {h.partition} offsets {h.first}..{h.last}" for h in holes[:10])
        more = f" and {len(holes) - 10} more" if len(holes) > 10 else ""
        raise DatasetHole(f"the master dataset of {topic} has holes, so nothing was computed or published: {listed}"
                          f"{more}. Re-ingest them from Kafka while it still holds them, e.g. "
                          f"`{holes[0].replay_command()}`, then run the batch again (records Kafka no longer "
                          f"holds are lost: `viewcount batch accept-hole` records that, audited)")


def accepted_holes(records: Sequence[dict], topic: str) -> list[Hole]:
    """The holes accepted in the ledger's ``hole_accepted`` records for ``topic``."""
    return [Hole(r["payload"]["partition"], r["payload"]["first_offset"], r["payload"]["last_offset"])
            for r in records if r["kind"] == HOLE_ACCEPTED and r["payload"]["topic"] == topic]
