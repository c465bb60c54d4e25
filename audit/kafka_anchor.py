"""The ledger's anchor on a Kafka topic: one partition, records never deleted or compacted.

Each record is kept whole (its canonical bytes, keyed by its seq), so the topic is also a copy
from which a deleted store's records can be read back. The topic is created by
``viewcount topics create`` with ``retention.ms=-1`` and ``cleanup.policy=delete``; writing to
it needs only produce rights, which the audit store's writers need not share with it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from adapters.kafka.exceptions import KafkaSeamError
from adapters.kafka.seam import RecordConsumer, RecordProducer
from audit.anchor import LedgerAnchor
from audit.canonical import canonical_bytes
from audit.exceptions import AnchorMismatch, AnchorUnavailable

logger = logging.getLogger(__name__)

PARTITION = 0  # one partition: the anchor's order is the order records were anchored in


class KafkaLedgerAnchor(LedgerAnchor):
    def __init__(self, producer: RecordProducer, open_consumer: Callable[[], RecordConsumer], topic: str,
                 timeout_s: float = 30.0) -> None:
        self._producer, self._open_consumer, self._topic = producer, open_consumer, topic
        self._timeout_s = timeout_s
        self._topic_seen = False

    def ready(self) -> None:
        # once per anchor: a missing topic is a deployment mistake, not something that comes and goes
        if not self._topic_seen:
            with self._assigned():
                self._topic_seen = True

    @contextmanager
    def _assigned(self) -> Iterator[RecordConsumer]:
        """A consumer of the anchor's partition; an unknown topic fails here, by name, rather than
        reading as empty. Driver errors become :class:`AnchorUnavailable`."""
        consumer = self._open_consumer()
        try:
            consumer.assign(self._topic, [PARTITION])
            consumer.partitions()
            yield consumer
        except KafkaSeamError as e:
            raise AnchorUnavailable(f"cannot use {self.name}: {e} (it is created by `viewcount topics create`)") from e
        finally:
            consumer.close()

    @property
    def name(self) -> str:
        return f"the anchor topic {self._topic}"

    def publish(self, records: Iterable[dict]) -> None:
        try:
            deliveries = [(r["seq"], self._producer.send(self._topic, canonical_bytes(r), key=str(r["seq"]).encode(),
                                                         partition=PARTITION))
                          for r in records]
            self._producer.flush(self._timeout_s)
        except KafkaSeamError as e:
            raise AnchorUnavailable(f"could not anchor audit records in {self._topic}: {e}") from e
        for seq, delivery in deliveries:
            error = delivery.error(self._timeout_s)
            if error is not None:
                raise AnchorUnavailable(f"audit record {seq} is in the store but not anchored in {self._topic}: "
                                        f"{error} (`viewcount audit anchor` anchors it once the topic is back)") \
                    from error

    def close(self) -> None:
        self._producer.close()

    def anchored(self) -> dict[int, set[str]]:
        with self._assigned() as consumer:
            return self._read(consumer)

    def _read(self, consumer: RecordConsumer) -> dict[int, set[str]]:
        start = consumer.beginning_offsets([PARTITION])[PARTITION]
        end = consumer.end_offsets([PARTITION])[PARTITION]
        kept: dict[int, set[str]] = {}
        if start >= end:
            return kept
        consumer.seek(PARTITION, start)
        deadline = time.monotonic() + self._timeout_s
        while consumer.position(PARTITION) < end:
            if time.monotonic() > deadline:
                raise AnchorUnavailable(f"reading {self.name} did not reach offset {end} in {self._timeout_s:.0f}s")
            for record in consumer.poll(1.0).get(PARTITION, []):
                if record.offset >= end:
                    break
                try:
                    value = json.loads(record.value or b"")
                    seq, hash_ = value["seq"], value["hash"]
                except (ValueError, TypeError, KeyError) as e:
                    raise AnchorMismatch(f"{self.name} partition {PARTITION} offset {record.offset} is not an "
                                         f"audit record: {e}") from e
                kept.setdefault(seq, set()).add(hash_)
        logger.debug("read %d anchored audit records from %s", len(kept), self._topic)
        return kept
