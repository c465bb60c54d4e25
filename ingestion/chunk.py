"""One partition's records of one ingest hour, buffered until they are flushed as files."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from viewcount.eventbatch import DecodedEvents
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
        self.extend([record], [ingest_ms], DecodedEvents.of([parsed]))

    def extend(self, records: Sequence[Record], ingest_times: Sequence[int], decoded: DecodedEvents) -> int:
        """Append records that follow the chunk's last offset, in offset order, with their ingest
        times and what their values decoded to, a column at a time. Returns the value bytes added."""
        values = [r.value for r in records]
        added = sum(map(len, filter(None, values)))
        self.last_offset = records[-1].offset
        self.max_ingest_ms = max(self.max_ingest_ms, max(ingest_times))
        self.value_bytes += added
        if decoded.rows:
            valid_rows = decoded.rows
            if len(valid_rows) == len(records):
                _extend_record_columns(self.valid, records, ingest_times, values)
            else:
                _extend_record_columns(self.valid, [records[i] for i in valid_rows],
                                       [ingest_times[i] for i in valid_rows], [values[i] for i in valid_rows])
            columns = self.valid
            columns["event_id"] += decoded.event_id
            columns["video_id"] += decoded.video_id
            columns["creator_id"] += decoded.creator_id
            columns["viewer_id"] += decoded.viewer_id
            columns["event_time"] += decoded.event_time_ms
            columns["watch_ms"] += decoded.watch_ms
            columns["fingerprint"] += decoded.fingerprint
        if decoded.invalid:
            invalid_rows = list(decoded.invalid)
            reasons = list(decoded.invalid.values())
            invalid_records = [records[i] for i in invalid_rows]
            _extend_record_columns(self.invalid, invalid_records, [ingest_times[i] for i in invalid_rows],
                                   [values[i] for i in invalid_rows])
            self.invalid["reason"] += [e.reason.value for e in reasons]
            self.invalid["reason_detail"] += [e.detail for e in reasons]
            self.invalid_records += zip(invalid_records, reasons)
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


def _extend_record_columns(columns: dict[str, list], records: Sequence[Record], ingest_times: Sequence[int],
                           values: list[bytes | None]) -> None:
    """The columns every stored record has (VIEWS_SCHEMA and QUARANTINE_SCHEMA share them);
    ``values`` are the records' values, already in a list."""
    columns["topic"] += [r.topic for r in records]
    columns["partition"] += [r.partition for r in records]
    columns["offset"] += [r.offset for r in records]
    columns["timestamp"] += [r.timestamp_ms for r in records]
    columns["ingest_time"] += ingest_times
    columns["key"] += [r.key for r in records]
    columns["value"] += values
    columns["headers"] += [[{"key": k, "value": v} for k, v in r.headers] if r.headers else _NO_HEADERS
                           for r in records]


_NO_HEADERS: list = []   # shared by every record without headers; only ever read


def _parquet(columns: dict[str, list], schema: pa.Schema, metadata: dict) -> bytes:
    return range_file_bytes(pa.Table.from_pydict(columns, schema=schema), metadata)


# Columns whose values repeat within a range, dictionary-encoded. The others (offsets, times,
# keys, values, ids, digests) are nearly all distinct: a dictionary for them is built only to be
# thrown away, which cost a quarter of the encoding time and made the files larger.
DICTIONARY_COLUMNS = ["topic", "partition", "headers", "video_id", "creator_id", "viewer_id", "reason",
                      "reason_detail"]


def range_file_bytes(table: pa.Table, metadata: dict) -> bytes:
    """A range file as stored: the rows, zstd-compressed, with the range metadata in its schema."""
    # Arrow's own buffer, not a Python file object: the writer never takes the GIL to write a
    # page, so a range encodes on a worker thread while the sink reads on.
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata).encode()}), sink,
                   compression="zstd", use_dictionary=DICTIONARY_COLUMNS)
    return sink.getvalue().to_pybytes()


def file_metadata(data: bytes) -> dict:
    """The range metadata the sink stored in a views or quarantine file."""
    schema = pq.read_schema(pa.BufferReader(data))
    return json.loads(schema.metadata[METADATA_KEY])
