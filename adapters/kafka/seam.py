"""The interfaces every Kafka client implementation provides, and their value types."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

Headers = tuple[tuple[str, bytes], ...]
DeliveryCallback = Callable[[Exception | None], None]
PartitionsCallback = Callable[[list[int]], None]

logger = logging.getLogger(__name__)


class Record(NamedTuple):
    """One consumed record: where it sits in the log and what it carries, byte for byte.

    A named tuple, not a frozen dataclass: as immutable, and a consumer builds one per record,
    where a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost the raw
    sink half a microsecond of every record."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1
    configs: Mapping[str, str] = field(default_factory=dict)


class Delivery(ABC):
    """The outcome of one send, known after :meth:`RecordProducer.flush`."""

    @abstractmethod
    def error(self, timeout_s: float = 30.0) -> Exception | None:
        """``None`` when the record was written, else the translated error."""


class RecordProducer(ABC):
    """Idempotent producer with ``acks=all``."""

    @abstractmethod
    def send(self, topic: str, value: bytes | None, *, key: bytes | None = None,
             timestamp_ms: int | None = None, partition: int | None = None,
             headers: Headers = (), on_done: DeliveryCallback | None = None) -> Delivery:
        """Queue one record. Raises :class:`~adapters.kafka.exceptions.RecordTooLarge` at once
        when the client can tell the record will be refused.

        ``on_done`` is called once with the outcome (None: written; else the translated error),
        on whichever thread the client reports deliveries: a waiter that must not block (an event
        loop) hands it on, e.g. with ``call_soon_threadsafe``. Reports arrive while
        :meth:`serve_deliveries` runs (or during later sends and flushes)."""

    @abstractmethod
    def serve_deliveries(self, timeout_s: float) -> None:
        """Deliver outcomes to ``on_done`` callbacks for up to ``timeout_s``. Call it in a loop on
        one thread of its own when waiting through callbacks rather than :meth:`flush`:
        librdkafka reports only while polled; kafka-python reports from its own thread."""

    @abstractmethod
    def flush(self, timeout_s: float | None = None) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class RecordConsumer(ABC):
    """A ``read_committed`` consumer that hands out records per partition, in offset order."""

    @abstractmethod
    def subscribe(self, topic: str, on_assign: PartitionsCallback | None = None,
                  on_revoke: PartitionsCallback | None = None) -> None:
        """Join the consumer group: cooperative-sticky assignment (only partitions that move are
        revoked), static membership when the config names a ``group_instance_id``.

        Callbacks may run on the client's network thread, where anything slow stops heartbeats:
        they only record what changed. A partition given to ``on_assign`` delivers nothing until
        :meth:`start` is called for it (the poll loop reads where to resume from its own store,
        then starts it). Without ``on_assign``, partitions start where the group committed.
        ``on_revoke`` also reports partitions lost when the member was evicted."""

    @abstractmethod
    def start(self, partition: int, offset: int | None) -> None:
        """Begin delivering a newly assigned partition at ``offset`` (None: its first retained
        record). Call from the polling thread, after the poll that assigned it."""

    @abstractmethod
    def partitions(self) -> list[int]:
        """Every partition of the subscribed or assigned topic, owned or not."""

    @abstractmethod
    def assign(self, topic: str, partitions: Sequence[int]) -> None:
        """Read the given partitions without a group (replays, tests)."""

    @abstractmethod
    def poll(self, timeout_s: float, max_records: int | None = None) -> dict[int, list[Record]]:
        """Records by partition; an empty dict when nothing arrived within the timeout."""

    @abstractmethod
    def seek(self, partition: int, offset: int) -> None: ...

    @abstractmethod
    def seek_to_beginning(self, partition: int) -> None:
        """Read ``partition`` from its first retained record."""

    @abstractmethod
    def position(self, partition: int) -> int:
        """The offset of the next record to be returned for ``partition``."""

    @abstractmethod
    def end_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        """The offset after the last committed (read_committed: last stable) record."""

    @abstractmethod
    def beginning_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        """The first offset still in the log (after retention)."""

    @abstractmethod
    def offsets_for_time(self, partitions: Sequence[int], timestamp_ms: int) -> dict[int, int | None]:
        """The first offset whose timestamp is at or after ``timestamp_ms`` (None: none is)."""

    @abstractmethod
    def commit(self, offsets: Mapping[int, int]) -> None:
        """Record in Kafka ``partition → next offset`` (for lag monitoring). Asynchronous: it never
        waits on the broker; a failure is logged, and :meth:`close` sends what is still pending."""

    @abstractmethod
    def pause(self, partition: int) -> None:
        """Fetch nothing more of an owned partition until :meth:`start` resumes it."""

    @abstractmethod
    def commit_owned(self, offsets: Mapping[int, int]) -> None:
        """Record ``partition → next offset`` in Kafka and wait for the group coordinator's
        answer: a writer's fence. The coordinator takes it only from a member of the group's
        current generation, so it raises :class:`~adapters.kafka.exceptions.NotOwner` when this
        member no longer owns the partitions, and
        :class:`~adapters.kafka.exceptions.KafkaUnavailable` when no coordinator answers."""

    @abstractmethod
    def close(self) -> None: ...


class TopicAdmin(ABC):
    @abstractmethod
    def ensure_topics(self, specs: Sequence[TopicSpec]) -> dict[str, bool]:
        """Create what is missing; ``name → True`` if created now, ``False`` if it existed. An
        existing topic gets the spec's configs set (only those: others are left as they are), so
        a bound added to the spec reaches topics created before it."""

    @abstractmethod
    def partitions(self, topic: str) -> list[int]:
        """The topic's partitions; raises :class:`~adapters.kafka.exceptions.TopicError` when the
        broker does not know it."""

    @abstractmethod
    def topic_configs(self, topic: str) -> dict[str, str]:
        """The topic's configuration as the broker describes it now, ``key → value``."""

    def await_configs(self, spec: TopicSpec, timeout_s: float) -> None:
        """The broker applies an altered topic config a moment after it answered: wait until it
        describes the spec's values, so a record sent next meets them."""
        from adapters.kafka.exceptions import KafkaUnavailable, TopicError

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                described = self.topic_configs(spec.name)
                if all(described.get(k) == v for k, v in spec.configs.items()):
                    return
            except (KafkaUnavailable, TopicError) as e:
                logger.info("describe configs of topic %s: %s", spec.name, e)
            if time.monotonic() > deadline:
                raise TopicError(f"set configs of topic {spec.name}: not in effect after {timeout_s:g}s")
            time.sleep(0.1)

    def await_visible(self, topic: str, timeout_s: float = 30.0) -> None:
        """A new topic reaches the brokers' metadata a moment after creation (a `topics create`
        that read it at once could find one of its two topics missing): wait for it."""
        from adapters.kafka.exceptions import TopicError

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self.partitions(topic):
                    return
            except TopicError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    @abstractmethod
    def group_member_count(self, group_id: str) -> int:
        """Members the broker counts in a consumer group (0 for an unknown group)."""

    @abstractmethod
    def broker_count(self) -> int:
        """A metadata round trip: how many unfenced brokers the cluster reports."""

    @abstractmethod
    def close(self) -> None: ...
