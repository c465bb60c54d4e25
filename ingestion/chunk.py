"""One partition's records of one ingest hour, buffered until they are flushed as files."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from viewcount.events import InvalidEvent, ViewEvent
from adapters.kafka.seam import Record
from viewcount.rawdata import QUARANTINE_SCHEMA, VIEWS_SCHEMA, RangeFile

METADATA_KEY = b"viewcount"


@dataclass
class Chunk:
    topic: str
    partition: int
    hour_ms: int
    first_offset: int
    started_at: float = field(default_factory=time.monotonic)
    last_offset: int = -1
    max_ingest_ms: int = 0
    valid: dict[str, list] = field(default_factory=lambda: {f.name: [] for f in VIEWS_SCHEMA})
    invalid: dict[str, list] = field(default_factory=lambda: {f.name: [] for f in QUARANTINE_SCHEMA})
    invalid_records: list[tuple[Record, InvalidEvent]] = field(default_factory=list)
    value_bytes: int = 0

    @property
    def size(self) -> int:
        return len(self.valid["offset"]) + len(self.invalid["offset"])

    @property
    def range(self) -> RangeFile:
        return RangeFile(self.partition, self.first_offset, self.last_offset, self.hour_ms, self.topic)

    def add(self, record: Record, ingest_ms: int, parsed: ViewEvent | InvalidEvent) -> None:
        self.extend([record], [ingest_ms], [parsed])

    def extend(self, records: Sequence[Record], ingest_times: Sequence[int],
               parsed: Sequence[ViewEvent | InvalidEvent]) -> int:
        """Append records that follow the chunk's last offset, in offset order, with their ingest
        times and decoded values, a column at a time. Returns the value bytes added."""
        valid = [(r, t, e) for r, t, e in zip(records, ingest_times, parsed) if isinstance(e, ViewEvent)]
        invalid = ([(r, t, e) for r, t, e in zip(records, ingest_times, parsed) if not isinstance(e, ViewEvent)]
                   if len(valid) < len(records) else [])
        added = sum(len(r.value or b"") for r in records)
        self.last_offset = records[-1].offset
        self.max_ingest_ms = max(self.max_ingest_ms, max(ingest_times))
        self.value_bytes += added
        if valid:
            _extend_record_columns(self.valid, valid)
            columns = self.valid
            columns["event_id"].extend(e.event_id for _, _, e in valid)
            columns["video_id"].extend(e.video_id for _, _, e in valid)
            columns["creator_id"].extend(e.creator_id for _, _, e in valid)
            columns["viewer_id"].extend(e.viewer_id for _, _, e in valid)
            columns["event_time"].extend(e.event_time_ms for _, _, e in valid)
            columns["watch_ms"].extend(e.watch_ms for _, _, e in valid)
            columns["fingerprint"].extend(e.fingerprint() for _, _, e in valid)
        if invalid:
            _extend_record_columns(self.invalid, invalid)
            self.invalid["reason"].extend(e.reason.value for _, _, e in invalid)
            self.invalid["reason_detail"].extend(e.detail for _, _, e in invalid)
            self.invalid_records.extend((r, e) for r, _, e in invalid)
        return added

    def metadata(self) -> dict:
        return {
            "topic": self.topic, "partition": self.partition, "first_offset": self.first_offset,
            "last_offset": self.last_offset, "valid": len(self.valid["offset"]),
            "invalid": len(self.invalid["offset"]), "max_ingest_ms": self.max_ingest_ms,
        }

    def views_parquet(self) -> bytes:
        return _parquet(self.valid, VIEWS_SCHEMA, self.metadata())

    def quarantine_parquet(self) -> bytes | None:
        return _parquet(self.invalid, QUARANTINE_SCHEMA, self.metadata()) if self.invalid["offset"] else None


def _extend_record_columns(columns: dict[str, list], rows: list[tuple[Record, int, object]]) -> None:
    """The columns every stored record has (VIEWS_SCHEMA and QUARANTINE_SCHEMA share them)."""
    columns["topic"].extend(r.topic for r, _, _ in rows)
    columns["partition"].extend(r.partition for r, _, _ in rows)
    columns["offset"].extend(r.offset for r, _, _ in rows)
    columns["timestamp"].extend(r.timestamp_ms for r, _, _ in rows)
    columns["ingest_time"].extend(t for _, t, _ in rows)
    columns["key"].extend(r.key for r, _, _ in rows)
    columns["value"].extend(r.value for r, _, _ in rows)
    columns["headers"].extend([{"key": k, "value": v} for k, v in r.headers] for r, _, _ in rows)


def _parquet(columns: dict[str, list], schema: pa.Schema, metadata: dict) -> bytes:
    return range_file_bytes(pa.Table.from_pydict(columns, schema=schema), metadata)


def range_file_bytes(table: pa.Table, metadata: dict) -> bytes:
    """A range file as stored: the rows, zstd-compressed, with the range metadata in its schema."""
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata).encode()}), sink,
                   compression="zstd")
    return sink.getvalue()


def file_metadata(data: bytes) -> dict:
    """The range metadata the sink stored in a views or quarantine file."""
    schema = pq.read_schema(pa.BufferReader(data))
    return json.loads(schema.metadata[METADATA_KEY])
