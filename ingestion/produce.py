"""`viewcount produce`: send each line of a file, verbatim, as one record of the views topic."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from adapters.kafka.exceptions import RecordTooLarge
from adapters.kafka.seam import Delivery, RecordProducer
from viewcount.settings import format_duration_ms
from viewcount.timeutil import now_ms, parse_rfc3339_ms

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


MAX_IN_FLIGHT = 10_000   # records sent but not yet confirmed: what bounds produce's memory


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


@dataclass(frozen=True)
class _Sent:
    number: int
    line: bytes
    key: bytes | None
    timestamp_ms: int | None
    delivery: Delivery


def produce_lines(lines: Iterable[bytes], producer: RecordProducer, topic: str,
                  ingest_time_field: str | None = None,
                  progress: Callable[[int], None] | None = None,
                  max_ahead_ms: int | None = None, max_in_flight: int = MAX_IN_FLIGHT,
                  clock: Callable[[], int] = now_ms) -> ProduceReport:
    """Send ``lines`` in order; a refused line is reported by its 1-based number, the rest go on.

    At most ``max_in_flight`` records wait for the broker at a time, so a file of any size is sent
    in bounded memory. With ``max_ahead_ms`` (the topic's bound, CONTRACT §1), a line stamped
    further ahead of now is refused here, before it is sent: the broker would refuse it, and its
    refusal would fail the other records of its batch with it."""
    report = ProduceReport()
    window: list[_Sent] = []
    started = time.monotonic()
    for number, line in enumerate(lines, start=1):
        obj = as_object(line)
        key = key_of(obj)
        timestamp_ms = field_time_ms(obj, ingest_time_field) if ingest_time_field else None
        if max_ahead_ms is not None and timestamp_ms is not None and timestamp_ms > clock() + max_ahead_ms:
            report.failed.append((number, f"stamped {format_duration_ms(timestamp_ms - clock())} ahead of now; "
                                          f"the topic refuses more than {format_duration_ms(max_ahead_ms)} "
                                          f"(MAX_CLOCK_SKEW)"))
            continue
        try:
            window.append(_Sent(number, line, key, timestamp_ms,
                                producer.send(topic, line, key=key, timestamp_ms=timestamp_ms)))
        except RecordTooLarge as e:
            report.failed.append((number, f"{len(line)} bytes: {e}"))
            continue
        report.keyed += key is not None
        report.stamped += timestamp_ms is not None
        if len(window) >= max_in_flight:
            _settle(window, producer, topic, report)
            window = []
        if progress is not None and number % 10_000 == 0:
            progress(number)
    _settle(window, producer, topic, report)
    report.failed.sort()
    report.seconds = time.monotonic() - started
    return report


def _settle(window: list[_Sent], producer: RecordProducer, topic: str, report: ProduceReport) -> None:
    """Wait for the window's deliveries. The broker refuses a batch whole, and an idempotent
    producer can fail what followed a refused batch too, so each failed record is sent once more
    on its own: only a record refused alone is reported."""
    producer.flush()
    failed = []
    for sent in window:
        if sent.delivery.error() is None:
            report.sent += 1
        else:
            failed.append(sent)
    if failed:
        logger.warning("%d records of %s failed with their batch; sending each again on its own", len(failed), topic)
    for sent in failed:
        try:
            delivery = producer.send(topic, sent.line, key=sent.key, timestamp_ms=sent.timestamp_ms)
            producer.flush()
            error = delivery.error()
        except RecordTooLarge as e:
            error = e
        if error is None:
            report.sent += 1
        else:
            report.failed.append((sent.number, str(error)))


def read_lines(stream) -> Iterable[bytes]:
    """Lines of a binary stream without their ``\\n`` (a final line without one is kept)."""
    for raw in stream:
        yield raw[:-1] if raw.endswith(b"\n") else raw
