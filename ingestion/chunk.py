"""One partition's records of one ingest hour, buffered until they are flushed as files."""

from __future__ import annotations

import io
import json
import time
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
        self.last_offset = record.offset
        self.max_ingest_ms = max(self.max_ingest_ms, ingest_ms)
        self.value_bytes += len(record.value or b"")
        columns = self.valid if isinstance(parsed, ViewEvent) else self.invalid
        for name, value in (("topic", record.topic), ("partition", record.partition),
                            ("offset", record.offset), ("timestamp", record.timestamp_ms),
                            ("ingest_time", ingest_ms), ("key", record.key), ("value", record.value),
                            ("headers", [{"key": k, "value": v} for k, v in record.headers])):
            columns[name].append(value)
        if isinstance(parsed, ViewEvent):
            columns["event_id"].append(parsed.event_id)
            columns["video_id"].append(parsed.video_id)
            columns["creator_id"].append(parsed.creator_id)
            columns["viewer_id"].append(parsed.viewer_id)
            columns["event_time"].append(parsed.event_time_ms)
            columns["watch_ms"].append(parsed.watch_ms)
            columns["fingerprint"].append(parsed.fingerprint())
        else:
            columns["reason"].append(parsed.reason.value)
            columns["reason_detail"].append(parsed.detail)
            self.invalid_records.append((record, parsed))

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
