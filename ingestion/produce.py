"""`viewcount produce`: send each line of a file, verbatim, as one record of the views topic."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from adapters.kafka.exceptions import RecordTooLarge
from adapters.kafka.seam import Delivery, RecordProducer
from viewcount.timeutil import parse_rfc3339_ms

logger = logging.getLogger(__name__)


def as_object(line: bytes) -> dict | None:
    if not line.lstrip()[:1] == b"{":
        return None
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def key_of(obj: dict | None) -> bytes | None:
    """CONTRACT §1: the key is ``video_id`` when the line is an object with a string video_id."""
    if obj is not None and isinstance(obj.get("video_id"), str):
        return obj["video_id"].encode("utf-8", "surrogatepass")
    return None


def ingest_time_of(line: bytes, field_name: str) -> int | None:
    """The RFC 3339 time in ``field_name`` of a JSON-object line, or None (the broker's now)."""
    obj = as_object(line)
    return field_time_ms(obj, field_name)


def field_time_ms(obj: dict | None, field_name: str) -> int | None:
    if obj is None or not isinstance(obj.get(field_name), str):
        return None
    try:
        return parse_rfc3339_ms(obj[field_name])
    except (ValueError, OverflowError):
        return None


@dataclass
class ProduceReport:
    sent: int = 0
    keyed: int = 0
    stamped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def produce_lines(lines: Iterable[bytes], producer: RecordProducer, topic: str,
                  ingest_time_field: str | None = None,
                  progress: Callable[[int], None] | None = None) -> ProduceReport:
    """Send ``lines`` in order; a refused line is reported by its 1-based number, the rest go on."""
    report = ProduceReport()
    pending: list[tuple[int, Delivery]] = []
    started = time.monotonic()
    for number, line in enumerate(lines, start=1):
        obj = as_object(line)
        key = key_of(obj)
        timestamp_ms = field_time_ms(obj, ingest_time_field) if ingest_time_field else None
        try:
            pending.append((number, producer.send(topic, line, key=key, timestamp_ms=timestamp_ms)))
        except RecordTooLarge as e:
            report.failed.append((number, f"{len(line)} bytes: {e}"))
            continue
        report.keyed += key is not None
        report.stamped += timestamp_ms is not None
        if progress is not None and number % 10_000 == 0:
            progress(number)
    producer.flush()
    for number, delivery in pending:
        error = delivery.error()
        if error is None:
            report.sent += 1
        else:
            report.failed.append((number, str(error)))
    report.failed.sort()
    report.seconds = time.monotonic() - started
    return report


def read_lines(stream) -> Iterable[bytes]:
    """Lines of a binary stream without their ``\\n`` (a final line without one is kept)."""
    for raw in stream:
        yield raw[:-1] if raw.endswith(b"\n") else raw
