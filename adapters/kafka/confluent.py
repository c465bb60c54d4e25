"""The confluent-kafka (librdkafka) implementation of the seam, for when the client is the
bottleneck: it consumes an order of magnitude faster than kafka-python on the same broker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.kafka.exceptions import (
    FENCED_HINT, KafkaSeamError, KafkaUnavailable, NotOwner, ProduceError, RecordTooLarge, TopicError,
)
from adapters.kafka.seam import (
    Delivery, DeliveryCallback, Headers, PartitionsCallback, Record, RecordConsumer, RecordProducer, TopicAdmin,
    TopicSpec,
)

from adapters.kafka.config import KafkaClientConfig

logger = logging.getLogger(__name__)
FETCH_QUEUE_BACKOFF_MS = 10
# librdkafka's own log (every connection attempt); the CLI shows it only when debugging.
driver_log = logging.getLogger("adapters.kafka.librdkafka")


@dataclass(frozen=True)
class ConfluentConfig(KafkaClientConfig):
    """librdkafka's settings: the shared ones only."""

    def common(self) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap_servers, "client.id": self.client_id,
                "socket.timeout.ms": self.request_timeout_ms, "logger": driver_log,
                "error_cb": _client_error_reporter(self.bootstrap_servers), **self.security.librdkafka()}


def _client_error_reporter(bootstrap: str) -> Callable[[Any], None]:
    """librdkafka's asynchronous errors. Most pass by themselves (a broker away for a moment: the
    client retries, and the operation that waits on it says so); refused credentials do not, and
    the operation would only time out, so they are said once, at ERROR, with where to look."""
    said = False

    def report(error: Any) -> None:
        nonlocal said
        from confluent_kafka import KafkaError

        if error.code() in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED,
                            KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED):
            if not said:
                said = True
                logger.error("Kafka at %s refused this client: %s (check KAFKA_CONFIG_FILE)", bootstrap, error.str())
        else:
            driver_log.debug("client error: %s", error.str())

    return report


def _not_owner_codes() -> set[int]:
    """The coordinator's answers to a commit from a member whose generation is over."""
    from confluent_kafka import KafkaError

    names = ("ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "REBALANCE_IN_PROGRESS", "FENCED_INSTANCE_ID",
             "_ASSIGNMENT_LOST")
    return {getattr(KafkaError, n) for n in names if hasattr(KafkaError, n)}


def _translate(error: Exception, what: str) -> KafkaSeamError:
    from confluent_kafka import KafkaError, KafkaException

    detail = error.args[0] if isinstance(error, KafkaException) and error.args else None
    code = detail.code() if isinstance(detail, KafkaError) else None
    if code == KafkaError.MSG_SIZE_TOO_LARGE:
        return RecordTooLarge(f"{what}: record too large")
    # A fenced static member: librdkafka reports it as its generic fatal error, naming the cause.
    if code == KafkaError.FENCED_INSTANCE_ID or (code == KafkaError._FATAL and "fenced" in str(detail).lower()):
        return KafkaSeamError(f"{what}: {FENCED_HINT}")
    if code in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._TIMED_OUT):
        return KafkaUnavailable(f"{what}: no Kafka broker answered ({error})")
    # While a broker restarts, its partitions have no leader in the client's metadata for a moment;
    # when one of a cluster's brokers dies, a request waiting on it fails as its handle is
    # destroyed (_DESTROY_BROKER), and asked again goes to the partition's new leader.
    passing = (KafkaError._UNKNOWN_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION,
               KafkaError._WAIT_COORD, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE,
               KafkaError.NOT_COORDINATOR, KafkaError._DESTROY_BROKER)
    if code in passing or (isinstance(detail, KafkaError) and detail.retriable()):
        return KafkaUnavailable(f"{what}: {error}")
    return KafkaSeamError(f"{what}: {error}")


class _CallbackDelivery(Delivery):
    def __init__(self, producer: Any, on_done: DeliveryCallback | None) -> None:
        self._producer = producer
        self._on_done = on_done
        self.done = False
        self.failure: Exception | None = None

    def __call__(self, err, msg) -> None:  # librdkafka's delivery report
        if err is not None:
            from confluent_kafka import KafkaError

            too_large = err.code() in (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE)
            self.failure = (RecordTooLarge if too_large else ProduceError)(f"delivery failed: {err.str()}")
        self.done = True
        if self._on_done is not None:
            self._on_done(self.failure)

    def error(self, timeout_s: float = 30.0) -> Exception | None:
        if not self.done:
            self._producer.flush(timeout_s)
        if not self.done:
            return ProduceError("delivery not confirmed in time")
        return self.failure


class ConfluentProducer(RecordProducer):
    def __init__(self, config: ConfluentConfig) -> None:
        from confluent_kafka import KafkaException, Producer

        conf = {**config.common(), "enable.idempotence": True, "acks": "all",
                "linger.ms": config.linger_ms, "message.max.bytes": config.max_request_size + 512,
                "compression.type": config.compression_type or "none",
                # CONTRACT §1: a keyed record goes where the Java client (and kafka-python) puts
                # it, murmur2; librdkafka's own default (CRC32) would split a video's views.
                "partitioner": "murmur2_random",
                "message.timeout.ms": 120_000}  # as kafka-python's delivery timeout
        self._max_bytes = config.max_request_size
        self._producer = Producer(conf)
        # librdkafka retries an unreachable bootstrap forever, quietly: ask once, as kafka-python
        # does when it starts, so a wrong address is one clear error, not a hang.
        try:
            self._producer.list_topics(timeout=config.request_timeout_ms / 1000)
        except KafkaException as e:
            raise KafkaUnavailable(f"cannot connect producer to {config.bootstrap_servers}: "
                                   f"no Kafka broker answered ({e})") from e

    def send(self, topic: str, value: bytes | None, *, key: bytes | None = None,
             timestamp_ms: int | None = None, partition: int | None = None,
             headers: Headers = (), on_done: DeliveryCallback | None = None) -> Delivery:
        from confluent_kafka import KafkaException

        if len(value or b"") + len(key or b"") > self._max_bytes:
            raise RecordTooLarge(f"send to {topic}: record too large ({len(value or b'')} bytes)")
        delivery = _CallbackDelivery(self._producer, on_done)
        kwargs: dict[str, Any] = {"value": value, "key": key, "on_delivery": delivery}
        if timestamp_ms is not None:
            kwargs["timestamp"] = timestamp_ms
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = list(headers)
        while True:
            try:
                self._producer.produce(topic, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.05)  # the local queue is full: let deliveries drain
            except KafkaException as e:
                raise _translate(e, f"send to {topic}") from e
        self._producer.poll(0)
        return delivery

    def serve_deliveries(self, timeout_s: float) -> None:
        self._producer.poll(timeout_s)

    def flush(self, timeout_s: float | None = None) -> None:
        remaining = self._producer.flush(-1 if timeout_s is None else timeout_s)
        if remaining:
            raise ProduceError(f"flush: {remaining} records not delivered in time")

    def close(self) -> None:
        self._producer.flush(30)


class ConfluentConsumer(RecordConsumer):
    def __init__(self, config: ConfluentConfig) -> None:
        from confluent_kafka import Consumer

        self._config = config
        conf = {**config.common(), "group.id": config.group_id or f"{config.client_id}-nogroup",
                "enable.auto.commit": False, "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                "enable.partition.eof": False, "session.timeout.ms": config.session_timeout_ms,
                "max.poll.interval.ms": config.max_poll_interval_ms,
                "heartbeat.interval.ms": config.heartbeat_interval_ms,
                "partition.assignment.strategy": "cooperative-sticky",
                # Once the prefetched records pass queued.min.messages, librdkafka stops fetching
                # for this long (default 1 s) and then asks the broker afresh: a consumer that
                # reads a backlog slower than it arrives sat idle for up to a second at a time
                # (the seam alone read one at 166,000 records/s, and at 570,000 with 10 ms).
                # Checking the queue often costs no request.
                "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS}
        if config.group_id and config.group_instance_id:
            conf["group.instance.id"] = config.group_instance_id
        self._consumer = Consumer(conf)
        self._topic: str | None = None
        self._fence_waiting: threading.Thread | None = None

    def _tp(self, partition: int, offset: int | None = None) -> Any:
        from confluent_kafka import TopicPartition

        if self._topic is None:
            raise KafkaSeamError("consumer has no topic: call subscribe() or assign() first")
        return TopicPartition(self._topic, partition) if offset is None else TopicPartition(self._topic, partition, offset)

    def subscribe(self, topic: str, on_assign: PartitionsCallback | None = None,
                  on_revoke: PartitionsCallback | None = None) -> None:
        self._topic = topic

        # librdkafka calls these from inside consume(); cooperative-sticky hands over only the
        # partitions that move, so the assignment changes incrementally.
        def assigned(consumer, partitions):
            consumer.incremental_assign(partitions)
            if on_assign is not None:
                consumer.pause(partitions)
                on_assign(sorted(tp.partition for tp in partitions))

        def revoked(consumer, partitions):
            if on_revoke is not None:
                on_revoke(sorted(tp.partition for tp in partitions))
            held = {(tp.topic, tp.partition) for tp in consumer.assignment()}
            leaving = [tp for tp in partitions if (tp.topic, tp.partition) in held]
            if leaving:
                consumer.incremental_unassign(leaving)

        self._consumer.subscribe([topic], on_assign=assigned, on_revoke=revoked, on_lost=revoked)

    def start(self, partition: int, offset: int | None) -> None:
        from confluent_kafka import OFFSET_BEGINNING

        tp = self._tp(partition, OFFSET_BEGINNING if offset is None else offset)
        self._seek(tp)
        self._consumer.resume([self._tp(partition)])

    def partitions(self) -> list[int]:
        from confluent_kafka import KafkaException

        if self._topic is None:
            raise KafkaSeamError("consumer has no topic: call subscribe() or assign() first")
        try:
            metadata = self._consumer.list_topics(self._topic, timeout=self._config.request_timeout_ms / 1000)
        except KafkaException as e:
            raise _translate(e, f"partitions of {self._topic}") from e
        found = metadata.topics.get(self._topic)
        if found is not None and found.error is not None:
            raise _translate(KafkaException(found.error), f"partitions of {self._topic}")
        if found is None or not found.partitions:
            raise KafkaSeamError(f"topic {self._topic} has no partitions (does it exist?)")
        return sorted(found.partitions)

    def assign(self, topic: str, partitions: Sequence[int]) -> None:
        from confluent_kafka import OFFSET_BEGINNING

        self._topic = topic
        self._consumer.assign([self._tp(p, OFFSET_BEGINNING) for p in partitions])

    def poll(self, timeout_s: float, max_records: int | None = None) -> dict[int, list[Record]]:
        from confluent_kafka import KafkaError, KafkaException

        # Wait for the first record only, then take what is fetched already, without waiting: a
        # consume() of many records waits until it has them all, each fetch restarting its
        # timeout (confluent-kafka-python #407), so at 20k records/s a batch of 5,000 held the
        # first of them a quarter of a second.
        messages = self._consumer.consume(1, timeout_s)
        limit = max_records or self._config.max_poll_records
        if messages and limit > 1:
            messages += self._consumer.consume(limit - 1, 0)
        out: dict[int, list[Record]] = {}
        batch: list[Record] = []
        batch_partition = None
        for m in messages:
            err = m.error()
            if err is not None:
                if err.fatal() or err.code() == KafkaError._FATAL:
                    raise _translate(KafkaException(err), f"poll {self._topic}")
                logger.warning("poll %s: %s", self._topic, err.str())
                continue
            partition = m.partition()
            if partition != batch_partition:   # a fetch hands out runs of one partition
                batch = out.setdefault(partition, [])
                batch_partition = partition
            headers = m.headers()
            batch.append(Record(m.topic(), partition, m.offset(), m.timestamp()[1], m.key(), m.value(),
                                tuple(headers) if headers else ()))
        return out

    def seek(self, partition: int, offset: int) -> None:
        self._seek(self._tp(partition, offset))

    def seek_to_beginning(self, partition: int) -> None:
        from confluent_kafka import OFFSET_BEGINNING

        self.seek(partition, OFFSET_BEGINNING)

    def _seek(self, tp: Any) -> None:
        from confluent_kafka import KafkaException

        try:
            self._consumer.seek(tp)
        except KafkaException as e:
            held = any(t.topic == tp.topic and t.partition == tp.partition for t in self._consumer.assignment())
            if not held:
                raise _translate(e, f"seek {tp.topic}-{tp.partition}: not assigned to this consumer") from e
            # Not fetching yet (just assigned): restart the partition at the offset instead.
            self._consumer.incremental_unassign([self._tp(tp.partition)])
            self._consumer.incremental_assign([tp])

    def position(self, partition: int) -> int:
        from confluent_kafka import KafkaException

        offset = self._consumer.position([self._tp(partition)])[0].offset
        if offset < 0:  # nothing fetched since assignment: the committed or reset position
            try:
                committed = self._consumer.committed([self._tp(partition)], timeout=10)[0].offset
            except KafkaException as e:
                error = _translate(e, f"committed offset of {self._topic}-{partition}")
                if not isinstance(error, KafkaUnavailable):
                    raise error from e
                # A group coordinator moving or still loading (a new group): not known yet, so the
                # earliest it could be; the caller asks again on its next round.
                committed = -1
            offset = committed if committed >= 0 else self.beginning_offsets([partition])[partition]
        return offset

    def _watermarks(self, partition: int, cached: bool = False) -> tuple[int, int]:
        from confluent_kafka import KafkaException

        try:
            return self._consumer.get_watermark_offsets(self._tp(partition), timeout=10, cached=cached)
        except KafkaException as e:
            raise _translate(e, f"offsets of {self._topic}-{partition}") from e

    def end_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        # A fetching partition knows its end from the last fetch response; asking the broker
        # costs a round trip per partition, so only partitions not fetched yet do.
        ends = {}
        for p in partitions:
            high = self._watermarks(p, cached=True)[1]
            ends[p] = high if high >= 0 else self._watermarks(p)[1]
        return ends

    def beginning_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        return {p: self._watermarks(p)[0] for p in partitions}

    def offsets_for_time(self, partitions: Sequence[int], timestamp_ms: int) -> dict[int, int | None]:
        found = self._consumer.offsets_for_times([self._tp(p, timestamp_ms) for p in partitions], timeout=10)
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in found}

    def commit(self, offsets: Mapping[int, int]) -> None:
        from confluent_kafka import KafkaException

        if not offsets:
            return
        try:
            # Asynchronous: a commit waits on the group coordinator, which is away while a broker
            # restarts; the poll loop must not. Offsets in Kafka are for lag monitoring only.
            self._consumer.commit(offsets=[self._tp(p, o) for p, o in offsets.items()], asynchronous=True)
        except KafkaException as e:
            logger.warning("offset commit failed for %s %s: %s", self._topic, dict(offsets), e)

    def pause(self, partition: int) -> None:
        from confluent_kafka import KafkaException

        try:
            self._consumer.pause([self._tp(partition)])
        except KafkaException as e:
            raise _translate(e, f"pause {self._topic}-{partition}") from e

    def commit_owned(self, offsets: Mapping[int, int]) -> None:
        from confluent_kafka import KafkaError, KafkaException

        if not offsets:
            return
        what = f"commit {self._topic} {dict(offsets)}"
        error = self._commit_within(offsets, what, self._config.request_timeout_ms / 1000)
        if isinstance(error, KafkaException):
            detail = error.args[0] if error.args else None
            code = detail.code() if isinstance(detail, KafkaError) else None
            if code in _not_owner_codes():
                raise NotOwner(f"{what}: the group coordinator refused it ({detail.name()})") from error
            raise _translate(error, what) from error
        if error is not None:
            raise error

    def _commit_within(self, offsets: Mapping[int, int], what: str, timeout_s: float) -> BaseException | None:
        """A synchronous commit that this thread waits for at most ``timeout_s``. librdkafka's
        waits without end, and while it waits the caller does not poll: a rebalance that the
        coordinator's move (a broker restart) started then cannot complete, and the commit waits
        on it. Past the deadline the caller goes back to polling, which lets the rebalance, and
        the commit with it, finish; until it has, the next fence is refused at once."""
        if self._fence_waiting is not None and self._fence_waiting.is_alive():
            return KafkaUnavailable(f"{what}: an earlier ownership check is still waiting on the group coordinator")
        outcome: list[BaseException | None] = []
        tps = [self._tp(p, o) for p, o in offsets.items()]

        def commit() -> None:
            try:
                self._consumer.commit(offsets=tps, asynchronous=False)
                outcome.append(None)
            except BaseException as e:   # handed to the caller's thread as it is
                outcome.append(e)

        waiting = threading.Thread(target=commit, name=f"fence-{self._topic}", daemon=True)
        waiting.start()
        waiting.join(timeout_s)
        if waiting.is_alive():
            self._fence_waiting = waiting
            return KafkaUnavailable(f"{what}: the group coordinator did not answer in {timeout_s:g}s")
        return outcome[0]

    def close(self) -> None:
        if self._fence_waiting is not None:
            # librdkafka's close waits on the group too: give a held commit its time first.
            self._fence_waiting.join(self._config.request_timeout_ms / 1000)
        self._consumer.close()


class ConfluentAdmin(TopicAdmin):
    def __init__(self, config: ConfluentConfig) -> None:
        from confluent_kafka.admin import AdminClient

        self._admin = AdminClient(config.common())
        self._timeout_s = config.request_timeout_ms / 1000

    def _failed(self) -> None:
        """Before an admin call's failure is raised: serve the client's queued error reports, so a
        refused login is named (the call itself only says that it timed out)."""
        self._admin.poll(0)

    def ensure_topics(self, specs: Sequence[TopicSpec]) -> dict[str, bool]:
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import NewTopic

        created = {}
        for spec in specs:
            future = self._admin.create_topics(
                [NewTopic(spec.name, spec.partitions, spec.replication_factor, config=dict(spec.configs))],
                operation_timeout=self._timeout_s)[spec.name]
            try:
                future.result()
                created[spec.name] = True
                self.await_visible(spec.name)
            except KafkaException as e:
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    self._failed()
                    raise TopicError(f"create topic {spec.name}: {e}") from e
                created[spec.name] = False
                self._set_configs(spec)
        return created

    def _set_configs(self, spec: TopicSpec) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

        if not spec.configs:
            return
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in spec.configs.items()]
        resource = ConfigResource(ResourceType.TOPIC, spec.name, incremental_configs=entries)
        try:
            for future in self._admin.incremental_alter_configs([resource]).values():
                future.result()
        except KafkaException as e:
            self._failed()
            raise TopicError(f"set configs of topic {spec.name}: {e}") from e
        self.await_configs(spec, self._timeout_s)

    def topic_configs(self, topic: str) -> dict[str, str]:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import ConfigResource, ResourceType

        try:
            future = next(iter(self._admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()))
            return {name: entry.value for name, entry in future.result(timeout=self._timeout_s).items()}
        except KafkaException as e:
            self._failed()
            raise _translate(e, f"describe configs of topic {topic}") from e

    def partitions(self, topic: str) -> list[int]:
        metadata = self._admin.list_topics(topic, timeout=self._timeout_s)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            raise TopicError(f"topic {topic} not found")
        return sorted(found.partitions)

    def group_member_count(self, group_id: str) -> int:
        from confluent_kafka import KafkaException

        try:
            described = self._admin.describe_consumer_groups([group_id])[group_id].result()
        except KafkaException as e:
            self._failed()
            raise _translate(e, f"describe group {group_id}") from e
        return len(described.members)

    def broker_count(self) -> int:
        from confluent_kafka import KafkaException

        try:
            return len(self._admin.list_topics(timeout=self._timeout_s).brokers)
        except KafkaException as e:
            self._failed()
            raise _translate(e, "describe cluster") from e

    def close(self) -> None:
        pass
