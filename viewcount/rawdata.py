"""The master dataset's layout, shared by the raw sink that writes it and the batch layer that
reads it. Paths are relative to RAW_STORE.

    views/v1/ingest_date=YYYY-MM-DD/ingest_hour=HH/part-{topic}-{partition}-{first:020d}-{last:020d}.parquet
    quarantine/v1/…same…                      invalid records of that offset range, with a reason
    _progress/{topic}/partition-{p}.json      how far the sink has flushed, for the batch watermark
    _sink/{topic}/partition-{p}.json          the sink's resume hint (the files are the truth)

A views file is written for every flushed offset range, even when all its records were invalid,
so that the views files alone say which offsets are committed; the quarantine file of a range is
written first, and the range's views file commits both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa

VIEWS_ROOT = "views/v1"
QUARANTINE_ROOT = "quarantine/v1"
BATCH_ROOT = "batch/v1"          # batch versions: version={id}/video_hourly, video_totals, creator_daily
VIDEO_HOURLY = "video_hourly"    # a version's views: (video_id, event_hour, views)
VIDEO_TOTALS = "video_totals"    # (video_id, views, creator_id: the first claim)
CREATOR_DAILY = "creator_daily"  # (creator_id, event_day, views) by first claim
CHANGES = "changes"              # (video_id, event_hour, views) added over the version it was computed over
CLAIMS = "video_hour_claims"     # (video_id, event_hour, creator_id, views): counted views by named creator
DAY_VIEWS = (VIDEO_HOURLY, CLAIMS)   # kept by event day: a folder event_day=YYYY-MM-DD per day

_TS = pa.timestamp("ms", tz="UTC")
_RECORD_FIELDS = [
    pa.field("topic", pa.string(), nullable=False),
    pa.field("partition", pa.int32(), nullable=False),
    pa.field("offset", pa.int64(), nullable=False),
    pa.field("timestamp", _TS, nullable=False),        # the Kafka record timestamp
    pa.field("ingest_time", _TS, nullable=False),      # running maximum of the partition
    pa.field("key", pa.binary()),
    pa.field("value", pa.binary()),
    # The record's headers as sent (CONTRACT §8: what the collector saw of the client), in order.
    pa.field("headers", pa.list_(pa.struct([pa.field("key", pa.string()), pa.field("value", pa.binary())]))),
]
VIEWS_SCHEMA = pa.schema(_RECORD_FIELDS + [
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("creator_id", pa.string(), nullable=False),
    pa.field("viewer_id", pa.string(), nullable=False),
    pa.field("event_time", _TS, nullable=False),
    pa.field("watch_ms", pa.int64(), nullable=False),
    pa.field("fingerprint", pa.binary(), nullable=False),   # ViewEvent.fingerprint()
])
QUARANTINE_SCHEMA = pa.schema(_RECORD_FIELDS + [
    pa.field("reason", pa.string(), nullable=False),
    pa.field("reason_detail", pa.string(), nullable=False),
])


@dataclass(frozen=True, order=True)
class RangeFile:
    """One offset range of one partition, as named in the dataset."""

    partition: int
    first: int
    last: int
    hour_ms: int
    topic: str

    @property
    def name(self) -> str:
        return f"part-{self.topic}-{self.partition}-{self.first:020d}-{self.last:020d}.parquet"

    def path(self, root: str = VIEWS_ROOT) -> str:
        return f"{root}/{hour_dir(self.hour_ms)}/{self.name}"


def hour_dir(hour_ms: int) -> str:
    moment = datetime.fromtimestamp(hour_ms / 1000, tz=timezone.utc)
    return f"ingest_date={moment:%Y-%m-%d}/ingest_hour={moment:%H}"


def parse_hour_dir(date_dir: str, hour_dir_name: str) -> int:
    day = datetime.strptime(date_dir.removeprefix("ingest_date="), "%Y-%m-%d").replace(tzinfo=timezone.utc)
    return int(day.timestamp() * 1000) + int(hour_dir_name.removeprefix("ingest_hour=")) * 3_600_000


def parse_name(name: str, hour_ms: int) -> RangeFile | None:
    """``part-{topic}-{p}-{first}-{last}.parquet`` → RangeFile; None for anything else."""
    if not (name.startswith("part-") and name.endswith(".parquet")):
        return None
    try:
        topic, partition, first, last = name[len("part-"):-len(".parquet")].rsplit("-", 3)
        return RangeFile(int(partition), int(first), int(last), hour_ms, topic)
    except ValueError:
        return None


def version_dir(version: str, name: str = "") -> str:
    """A batch version's folder, or ``name`` in it (a view, a state table, a report)."""
    return f"{BATCH_ROOT}/version={version}" + (f"/{name}" if name else "")


def day_dirs(view: str, days: Mapping[str, str]) -> list[str]:
    """The folders of a view kept by event day (:data:`DAY_VIEWS`); ``days``: event day → the
    version whose folder holds that day (a version's manifest ``days``)."""
    return [version_dir(holder, f"{view}/event_day={day}") for day, holder in sorted(days.items())]


def view_dirs(version: str, view: str, days: Mapping[str, str] | None = None) -> list[str]:
    """The folders that hold a version's ``view``: its days' folders, wherever they are, for a view
    kept by event day in a version that lists its ``days``; else its own folder."""
    if days is not None and view in DAY_VIEWS:
        return day_dirs(view, days)
    return [version_dir(version, view)]


def progress_path(topic: str, partition: int) -> str:
    return f"_progress/{topic}/partition-{partition}.json"


def checkpoint_path(topic: str, partition: int) -> str:
    return f"_sink/{topic}/partition-{partition}.json"


def origin_path(topic: str, partition: int) -> str:
    """Where the sink records, once, the first offset it ever stored of a partition: without it a
    deleted first file would leave no trace."""
    return f"_sink/{topic}/partition-{partition}.origin.json"


def overlaps(files: Iterable[RangeFile]) -> list[tuple[int, int, int]]:
    """``(partition, first, last)`` of every offset range two files of one topic both hold (a
    member that flushed after it had lost its partition): read once, they count once."""
    found = []
    by_partition: dict[int, list[RangeFile]] = {}
    for f in files:
        by_partition.setdefault(f.partition, []).append(f)
    for partition, ranges in sorted(by_partition.items()):
        reach = -1
        for f in sorted(ranges, key=lambda f: (f.first, f.last)):
            if f.first <= reach:
                first, last = f.first, min(f.last, reach)
                if found and found[-1][0] == partition and first <= found[-1][2] + 1:   # one stretch
                    _, first, before = found.pop()
                    last = max(last, before)
                found.append((partition, first, last))
            reach = max(reach, f.last)
    return found


def gaps(covered: Iterable[RangeFile], start: int, end: int) -> list[tuple[int, int]]:
    """The offset ranges in ``start..end`` (inclusive) that no file covers, in order."""
    found, cursor = [], start
    for f in sorted(covered, key=lambda f: f.first):
        if f.last < cursor:
            continue
        if f.first > cursor:
            found.append((cursor, min(f.first - 1, end)))
        cursor = max(cursor, f.last + 1)
        if cursor > end:
            break
    if cursor <= end:
        found.append((cursor, end))
    return [g for g in found if g[0] <= g[1]]


@dataclass(frozen=True)
class FlushProgress:
    """How far the raw sink has flushed one partition (CONTRACT §3: the batch watermark never
    passes what every partition has flushed)."""

    topic: str
    partition: int
    flushed_offset: int             # every record at or below this offset is in a file
    complete_before_ms: int         # every record with an ingest time below this is in a file
    idle_since_ms: int | None       # wall clock when the partition was last seen idle and caught up
    updated_at_ms: int

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> FlushProgress:
        return cls(**json.loads(data))
