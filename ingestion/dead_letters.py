"""The dead-letter topic: every invalid record, with why it is invalid and where it came from.

A record is sent whole when it fits. One that does not (a value near the broker's limit plus the
reason headers is over it) is sent as its **location** instead (CONTRACT §1): topic, partition,
offset, size, SHA-256 and the quarantine file that holds it whole. Either way each dead letter is
confirmed before the range it belongs to is committed, so no record can stop the sink and none is
lost. They are sent when the range is sealed and confirmed when it commits, so their round trip
to the brokers overlaps the range's encoding.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from adapters.kafka.exceptions import RecordTooLarge
from adapters.kafka.seam import Delivery, Record, RecordProducer
from ingestion.exceptions import DeadLetterError
from viewcount.events import InvalidEvent
from viewcount.logfields import where

logger = logging.getLogger(__name__)

LOCATION = b"location"   # the dlq_content header of a dead letter that stands for a record too large to carry


def dead_letter_headers(record: Record, invalid: InvalidEvent) -> list[tuple[str, bytes]]:
    return [("reason", invalid.reason_text.encode("utf-8", "replace")),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode())]


def location_value(record: Record, quarantine_url: str) -> bytes:
    """What stands in for a record too large to carry: where it is kept whole, and how to check it."""
    value = record.value or b""
    return json.dumps({"topic": record.topic, "partition": record.partition, "offset": record.offset,
                       "size": len(value), "sha256": hashlib.sha256(value).hexdigest(),
                       "quarantine": quarantine_url}, sort_keys=True).encode()


@dataclass(frozen=True)
class SentDeadLetters:
    """The dead letters of one range, sent and not confirmed yet; None where the producer refused
    one before sending (too large to carry)."""

    letters: list[tuple[Record, InvalidEvent, Delivery | None]]
    quarantine_url: str


class DeadLetterWriter:
    def __init__(self, producer: RecordProducer, topic: str) -> None:
        self._producer, self.topic = producer, topic

    def send(self, invalid_records: list[tuple[Record, InvalidEvent]], quarantine_url: str) -> SentDeadLetters:
        """Send every dead letter of one range, whose quarantine file will be ``quarantine_url``,
        without waiting for them."""
        sent: list[tuple[Record, InvalidEvent, Delivery | None]] = []
        for record, invalid in invalid_records:
            try:
                sent.append((record, invalid, self._producer.send(
                    self.topic, record.value, key=record.key, headers=dead_letter_headers(record, invalid))))
            except RecordTooLarge:            # over the producer's own limit: known before sending
                sent.append((record, invalid, None))
        return SentDeadLetters(sent, quarantine_url)

    def confirm(self, sent: SentDeadLetters) -> int:
        """Wait until every dead letter of one range is delivered, sending one too large to carry
        as its location; returns how many went as their location. Raises
        :class:`DeadLetterError` if one cannot be delivered at all."""
        self._producer.flush()
        too_large = []
        for record, invalid, delivery in sent.letters:
            error = RecordTooLarge("over the producer's limit") if delivery is None else delivery.error()
            if isinstance(error, RecordTooLarge):     # over the producer's or the broker's limit
                too_large.append((record, invalid))
            elif error is not None:
                raise DeadLetterError(f"dead letter of {record.topic}-{record.partition}@{record.offset} "
                                      f"not delivered to {self.topic}: {error}") from error
        for record, invalid in too_large:
            logger.warning("dead letter of %s-%d@%d (%d bytes) is too large for %s: sending its location",
                           record.topic, record.partition, record.offset, len(record.value or b""), self.topic,
                           extra=where(record.topic, record.partition, record.offset))
            delivery = self._producer.send(
                self.topic, location_value(record, sent.quarantine_url), key=record.key,
                headers=[*dead_letter_headers(record, invalid), ("dlq_content", LOCATION)])
            self._producer.flush()
            error = delivery.error()
            if error is not None:
                raise DeadLetterError(f"location of {record.topic}-{record.partition}@{record.offset} not delivered "
                                      f"to {self.topic}: {error}") from error
        return len(too_large)
