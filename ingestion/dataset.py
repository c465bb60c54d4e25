"""What the master dataset already holds for a partition: committed ranges and where to resume."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from ingestion.chunk import file_metadata
from viewcount.rawdata import QUARANTINE_ROOT, RangeFile, checkpoint_path
from adapters.files.base import FileStore
from adapters.files.rawdata import range_files
from adapters.files.exceptions import NotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResumePoint:
    next_offset: int | None          # None: nothing committed yet
    ingest_ms: int | None            # the running maximum carried across restarts
    last_file: RangeFile | None


def resume_point(store: FileStore, topic: str, partition: int) -> ResumePoint:
    """Where the sink continues: after the highest committed offset in views files. The
    checkpoint only narrows the search; the files are the truth. Quarantine files past that
    offset were written by a flush that crashed before its commit and are removed."""
    hint = read_checkpoint(store, topic, partition)
    since = hint["hour_ms"] if hint else None
    files = range_files(store, topic, partition, since_hour_ms=since)
    if hint and not files:
        files = range_files(store, topic, partition)  # the hinted file is gone: full scan
    if not files:
        _drop_orphan_quarantine(store, topic, partition, after=-1)
        return ResumePoint(None, None, None)
    last = max(files, key=lambda f: f.last)
    if hint and hint["last_offset"] == last.last:
        ingest_ms = hint["ingest_ms"]
    else:
        ingest_ms = file_metadata(store.read(last.path()))["max_ingest_ms"]
    _drop_orphan_quarantine(store, topic, partition, after=last.last, since_hour_ms=last.hour_ms)
    return ResumePoint(last.last + 1, ingest_ms, last)


def write_checkpoint(store: FileStore, last: RangeFile, ingest_ms: int) -> None:
    body = {"last_offset": last.last, "ingest_ms": ingest_ms, "hour_ms": last.hour_ms}
    store.put(checkpoint_path(last.topic, last.partition), json.dumps(body).encode())


def read_checkpoint(store: FileStore, topic: str, partition: int) -> dict | None:
    try:
        return json.loads(store.read(checkpoint_path(topic, partition)))
    except NotFound:
        return None
    except ValueError:
        logger.warning("ignoring an unreadable checkpoint of %s-%d", topic, partition)
        return None


def _drop_orphan_quarantine(store: FileStore, topic: str, partition: int, after: int,
                            since_hour_ms: int | None = None) -> None:
    for orphan in range_files(store, topic, partition, QUARANTINE_ROOT, since_hour_ms):
        if orphan.first > after:
            logger.info("removing uncommitted quarantine file %s", orphan.path(QUARANTINE_ROOT))
            store.delete(orphan.path(QUARANTINE_ROOT))
