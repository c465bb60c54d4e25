"""The kafka-python implementation of the seam (the pure-Python client; confluent-kafka is the default)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.kafka.exceptions import (
    FENCED_HINT,
    KafkaSeamError,
    KafkaUnavailable,
    NotOwner,
    ProduceError,
    RecordTooLarge,
    TopicError,
)
from adapters.kafka.seam import (
    Delivery,
    DeliveryCallback,
    Headers,
    PartitionsCallback,
    Record,
    RecordConsumer,
    RecordProducer,
    TopicAdmin,
    TopicSpec,
)

from adapters.kafka.config import KafkaClientConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaPythonConfig(KafkaClientConfig):
    """kafka-python's settings: the shared ones and its fetch and batch sizes."""

    fetch_max_bytes: int = 52_428_800
    max_partition_fetch_bytes: int = 4_194_304
    batch_size: int = 262_144


def _translate(error: Exception, what: str) -> KafkaSeamError:
    from kafka.errors import FencedInstanceIdError, KafkaTimeoutError, MessageSizeTooLargeError

    if isinstance(error, FencedInstanceIdError):
        return KafkaSeamError(f"{what}: {FENCED_HINT}")
    if isinstance(error, MessageSizeTooLargeError):
        return RecordTooLarge(f"{what}: record too large ({error})")
    if isinstance(error, KafkaTimeoutError) and "bootstrap" in str(error):
        return KafkaUnavailable(f"{what}: no Kafka broker answered ({error})")
    if getattr(error, "retriable", False):  # a broker restarting, a leader moving
        return KafkaUnavailable(f"{what}: {type(error).__name__}: {error}")
    return KafkaSeamError(f"{what}: {type(error).__name__}: {error}")


class _FutureDelivery(Delivery):
    def __init__(self, future: Any) -> None:
        self._future = future

    def error(self, timeout_s: float = 30.0) -> Exception | None:
        try:
            self._future.get(timeout=timeout_s)
        except Exception as e:  # the driver's own error types; translated here
            return _translate(e, "delivery failed")
        return None


class KafkaPythonProducer(RecordProducer):
    def __init__(self, config: KafkaPythonConfig) -> None:
        self._config = config
        self._producer = self._new_producer()
        self._idle = threading.Event()   # never set: serve_deliveries only waits

    def _new_producer(self) -> Any:
        from kafka import KafkaProducer

        config = self._config
        try:
            return KafkaProducer(
                bootstrap_servers=config.bootstrap_servers.split(","),
                **config.security.kafka_python(),
                client_id=config.client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=config.linger_ms,
                batch_size=config.batch_size,
                max_request_size=config.max_request_size,
                compression_type=config.compression_type,
                request_timeout_ms=config.request_timeout_ms,
            )
        except Exception as e:
            raise _translate(e, f"cannot connect producer to {config.bootstrap_servers}") from e

    def _recover(self) -> None:
        """kafka-python 3.0 moves an idempotent producer into a fatal state after any batch the
        broker refuses (a timestamp out of the topic's bound, say), and then fails every later send;
        the Java client and librdkafka fail that batch only. A producer in that state is replaced
        by a new one, so that one refused record does not stop the rest."""
        manager = getattr(self._producer, "_transaction_manager", None)
        if manager is not None and manager.has_fatal_error():
            logger.warning("the kafka-python producer stopped after a refused batch (%s); starting a new one",
                           manager.last_error)
            self._producer.close(timeout=0)
            self._producer = self._new_producer()

    def send(self, topic: str, value: bytes | None, *, key: bytes | None = None,
             timestamp_ms: int | None = None, partition: int | None = None,
             headers: Headers = (), on_done: DeliveryCallback | None = None) -> Delivery:
        from kafka.errors import KafkaError

        self._recover()
        try:
            future = self._producer.send(
                topic, value=value, key=key, timestamp_ms=timestamp_ms, partition=partition,
                headers=list(headers) or None,
            )
        except (KafkaError, AssertionError) as e:
            raise _translate(e, f"send to {topic}") from e
        if on_done is not None:   # called on kafka-python's sender thread (or at once when known)
            future.add_callback(lambda _metadata: on_done(None))
            future.add_errback(lambda e: on_done(_translate(e, "delivery failed")))
        return _FutureDelivery(future)

    def serve_deliveries(self, timeout_s: float) -> None:
        self._idle.wait(timeout_s)   # kafka-python's own sender thread reports; nothing to serve here

    def flush(self, timeout_s: float | None = None) -> None:
        from kafka.errors import KafkaError

        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as e:
            raise ProduceError(f"flush: {e}") from e

    def close(self) -> None:
        self._producer.close()


class KafkaPythonConsumer(RecordConsumer):
    def __init__(self, config: KafkaPythonConfig) -> None:
        from kafka import KafkaConsumer
        from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor

        self._config = config
        self._topic: str | None = None
        self._requested: dict[int, int] = {}    # offsets asked of commit(), confirmed again at close
        self._closing = threading.Event()
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=config.bootstrap_servers.split(","),
                **config.security.kafka_python(),
                client_id=config.client_id,
                group_id=config.group_id,
                group_instance_id=config.group_instance_id if config.group_id else None,
                partition_assignment_strategy=[CooperativeStickyAssignor],
                isolation_level="read_committed",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=config.max_poll_records,
                fetch_max_bytes=config.fetch_max_bytes,
                max_partition_fetch_bytes=config.max_partition_fetch_bytes,
                request_timeout_ms=config.request_timeout_ms,
                session_timeout_ms=config.session_timeout_ms,
                max_poll_interval_ms=config.max_poll_interval_ms,
                heartbeat_interval_ms=config.heartbeat_interval_ms,
            )
        except Exception as e:
            raise _translate(e, f"cannot connect consumer to {config.bootstrap_servers}") from e

    def _tp(self, partition: int) -> Any:
        from kafka import TopicPartition

        if self._topic is None:
            raise KafkaSeamError("consumer has no topic: call subscribe() or assign() first")
        return TopicPartition(self._topic, partition)

    def subscribe(self, topic: str, on_assign: PartitionsCallback | None = None,
                  on_revoke: PartitionsCallback | None = None) -> None:
        from kafka import ConsumerRebalanceListener

        consumer, closing = self._consumer, self._closing

        # kafka-python runs these on its network loop: record and pause only (no I/O). A
        # rebalance that close() finishes is not the application's any more: it is not told.
        class _Listener(ConsumerRebalanceListener):
            def on_partitions_assigned(self, assigned):  # noqa: N802 - driver API
                if on_assign is not None:
                    consumer.pause(*assigned)
                    if not closing.is_set():
                        on_assign(sorted(tp.partition for tp in assigned))

            def on_partitions_revoked(self, revoked):  # noqa: N802 - driver API
                if on_revoke is not None and not closing.is_set():
                    on_revoke(sorted(tp.partition for tp in revoked))

        self._topic = topic
        self._consumer.subscribe([topic], listener=_Listener())
        # Load the topic's partitions now, after subscribing and before the first poll joins.
        # kafka-python notes what the subscription's metadata was when the group assigned, and
        # rejoins as soon as it changes: a member that joined before this metadata arrived would
        # get nothing ("No partition metadata"), or would rebalance a second time right after
        # its first assignment. Only a metadata update taken after subscribe() is noted, so it
        # is asked for here whether or not the topic is already known.
        try:
            self._consumer.topics()
        except Exception as e:  # the join still works, only less promptly
            logger.warning("metadata for %s not loaded before joining: %s", topic, e)

    def start(self, partition: int, offset: int | None) -> None:
        tp = self._tp(partition)
        if offset is None:
            self._consumer.seek_to_beginning(tp)
        else:
            self._consumer.seek(tp, offset)
        self._consumer.resume(tp)

    def partitions(self) -> list[int]:
        if self._topic is None:
            raise KafkaSeamError("consumer has no topic: call subscribe() or assign() first")
        try:
            found = self._consumer.partitions_for_topic(self._topic)
        except Exception as e:
            raise _translate(e, f"partitions of {self._topic}") from e
        if not found:
            raise KafkaSeamError(f"topic {self._topic} has no partitions (does it exist?)")
        return sorted(found)

    def assign(self, topic: str, partitions: Sequence[int]) -> None:
        self._topic = topic
        self._consumer.assign([self._tp(p) for p in partitions])

    def poll(self, timeout_s: float, max_records: int | None = None) -> dict[int, list[Record]]:
        from kafka.errors import KafkaError

        try:
            batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except KafkaError as e:
            raise _translate(e, f"poll {self._topic}") from e
        return {
            tp.partition: [
                Record(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value,
                       tuple(r.headers or ()))
                for r in records
            ]
            for tp, records in batches.items()
            if records
        }

    def seek(self, partition: int, offset: int) -> None:
        try:
            self._consumer.seek(self._tp(partition), offset)
        except Exception as e:   # not assigned (any more): an assertion or IllegalStateError
            raise _translate(e, f"seek {self._topic}-{partition}") from e

    def seek_to_beginning(self, partition: int) -> None:
        self._consumer.seek_to_beginning(self._tp(partition))

    def position(self, partition: int) -> int:
        return self._consumer.position(self._tp(partition))

    def end_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        from kafka.errors import KafkaError

        try:
            ends = self._consumer.end_offsets([self._tp(p) for p in partitions])
        except KafkaError as e:
            raise _translate(e, f"end offsets of {self._topic}") from e
        return {tp.partition: offset for tp, offset in ends.items()}

    def beginning_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        from kafka.errors import KafkaError

        try:
            starts = self._consumer.beginning_offsets([self._tp(p) for p in partitions])
        except KafkaError as e:
            raise _translate(e, f"beginning offsets of {self._topic}") from e
        return {tp.partition: offset for tp, offset in starts.items()}

    def offsets_for_time(self, partitions: Sequence[int], timestamp_ms: int) -> dict[int, int | None]:
        from kafka.errors import KafkaError

        try:
            found = self._consumer.offsets_for_times({self._tp(p): timestamp_ms for p in partitions})
        except KafkaError as e:
            raise _translate(e, f"offsets for time in {self._topic}") from e
        return {tp.partition: (None if ot is None else ot.offset) for tp, ot in found.items()}

    def commit(self, offsets: Mapping[int, int]) -> None:
        from kafka import OffsetAndMetadata
        from kafka.errors import KafkaError

        if not offsets:
            return
        def failed(committed, result):
            if isinstance(result, Exception):
                logger.warning("offset commit failed for %s %s: %s", self._topic, dict(offsets), result)

        self._requested.update(offsets)
        try:
            # Asynchronous: a commit waits on the group coordinator, which is away while a broker
            # restarts; the poll loop must not. Offsets in Kafka are for lag monitoring only.
            self._consumer.commit_async({self._tp(p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()},
                                        callback=failed)
        except KafkaError as e:
            logger.warning("offset commit failed for %s %s: %s", self._topic, dict(offsets), e)

    def pause(self, partition: int) -> None:
        try:
            self._consumer.pause(self._tp(partition))
        except Exception as e:
            raise _translate(e, f"pause {self._topic}-{partition}") from e

    def commit_owned(self, offsets: Mapping[int, int]) -> None:
        from kafka.errors import (
            CommitFailedError, FencedInstanceIdError, IllegalGenerationError, KafkaError, RebalanceInProgressError,
            UnknownMemberIdError,
        )

        if not offsets:
            return
        what = f"commit {self._topic} {dict(offsets)}"
        try:
            self._commit_sync(offsets, self._config.request_timeout_ms)
        except (CommitFailedError, RebalanceInProgressError, IllegalGenerationError, UnknownMemberIdError,
                FencedInstanceIdError) as e:
            raise NotOwner(f"{what}: the group coordinator refused it ({type(e).__name__})") from e
        except KafkaError as e:
            raise _translate(e, what) from e

    def close(self) -> None:
        import time

        from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError

        # An asynchronous commit still in flight is dropped by close: commit the last offsets
        # asked for once more, synchronously and within the request timeout, so the group
        # resumes where this member said (the same offsets again change nothing).
        self._closing.set()
        requested, self._requested = self._requested, {}     # once: a second close commits nothing
        deadline = time.monotonic() + self._config.request_timeout_ms / 1000
        while requested and self._topic is not None:
            # Only partitions this member still holds: an old offset of a partition another
            # member took since would move that member's committed offset back.
            owned = {tp.partition for tp in self._consumer.assignment() if tp.topic == self._topic}
            requested = {p: o for p, o in requested.items() if p in owned}
            left_ms = int((deadline - time.monotonic()) * 1000)
            if not requested or left_ms <= 0:
                break
            try:
                self._commit_sync(requested, left_ms)
                break
            except (RebalanceInProgressError, CommitFailedError) as e:
                if not self._consumer.subscription():   # assigned by hand: no rebalance to finish
                    logger.info("last offset commit at close of %s not taken: %s", self._topic, e)
                    break
                # The group is rebalancing, and the coordinator waits for this member to rejoin,
                # which only a poll does (kafka-python refuses a commit until then). Finish it
                # and commit what this member still owns afterwards; records fetched meanwhile
                # are dropped with the consumer.
                logger.info("last offset commit of %s waits for a rebalance: %s", self._topic, e)
                try:
                    self._consumer.poll(timeout_ms=min(left_ms, 500))
                except KafkaError as poll_error:
                    logger.info("last offset commit at close of %s not taken: %s", self._topic, poll_error)
                    break
            except (KafkaError, AssertionError) as e:   # kafka-python asserts when it has no group
                logger.info("last offset commit at close of %s not taken: %s", self._topic, e)
                break
        self._consumer.close(autocommit=False)

    def _commit_sync(self, offsets: Mapping[int, int], timeout_ms: int) -> None:
        from kafka import OffsetAndMetadata

        self._consumer.commit({self._tp(p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()},
                              timeout_ms=timeout_ms)


class KafkaPythonAdmin(TopicAdmin):
    def __init__(self, config: KafkaPythonConfig) -> None:
        from kafka import KafkaAdminClient

        try:
            self._admin = KafkaAdminClient(
                bootstrap_servers=config.bootstrap_servers.split(","),
                **config.security.kafka_python(),
                client_id=config.client_id,
                request_timeout_ms=config.request_timeout_ms,
            )
            self._timeout_s = config.request_timeout_ms / 1000
        except Exception as e:
            raise _translate(e, f"cannot connect admin to {config.bootstrap_servers}") from e

    def ensure_topics(self, specs: Sequence[TopicSpec]) -> dict[str, bool]:
        from kafka.admin import NewTopic
        from kafka.errors import KafkaError, TopicAlreadyExistsError

        created: dict[str, bool] = {}
        for spec in specs:
            topic = NewTopic(spec.name, spec.partitions, spec.replication_factor,
                             topic_configs=dict(spec.configs))
            try:
                self._admin.create_topics([topic], raise_errors=True)
                created[spec.name] = True
                self.await_visible(spec.name)
            except TopicAlreadyExistsError:
                created[spec.name] = False
                self._set_configs(spec)
            except KafkaError as e:
                raise TopicError(f"create topic {spec.name}: {e}") from e
        return created

    def _set_configs(self, spec: TopicSpec) -> None:
        from kafka.admin import ConfigResource, ConfigResourceType

        if not spec.configs:
            return
        # incremental (only these keys) whenever the broker supports it, as every Kafka >= 2.3 does
        result = self._admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name, dict(spec.configs))])
        failed = [outcome for by_name in result.values() for outcome in by_name.values() if outcome != "OK"]
        if failed:
            raise TopicError(f"set configs of topic {spec.name}: {'; '.join(failed)}")
        self.await_configs(spec, self._timeout_s)

    def topic_configs(self, topic: str) -> dict[str, str]:
        from kafka.admin import ConfigResource, ConfigResourceType
        from kafka.errors import KafkaError

        try:
            described = self._admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                                     config_filter="all")
        except KafkaError as e:
            raise _translate(e, f"describe configs of topic {topic}") from e
        return {name: entry["value"] for name, entry in described.get("topic", {}).get(topic, {}).items()}

    def partitions(self, topic: str) -> list[int]:
        from kafka.errors import KafkaError

        try:
            described = self._admin.describe_topics([topic])
        except KafkaError as e:
            raise TopicError(f"describe topic {topic}: {e}") from e
        for entry in described:
            if entry.get("error_code", 0) != 0:
                raise TopicError(f"topic {topic} not found")
            return sorted(p.get("partition_index", p.get("partition")) for p in entry["partitions"])
        raise TopicError(f"topic {topic} not found")

    def group_member_count(self, group_id: str) -> int:
        from kafka.errors import KafkaError

        try:
            described = self._admin.describe_groups([group_id])
        except KafkaError as e:
            raise _translate(e, f"describe group {group_id}") from e
        return len(described.get(group_id, {}).get("members") or [])

    def broker_count(self) -> int:
        from kafka.errors import KafkaError

        try:
            cluster = self._admin.describe_cluster()
        except KafkaError as e:
            raise _translate(e, "describe cluster") from e
        return sum(1 for b in cluster["brokers"] if not b.get("is_fenced"))

    def close(self) -> None:
        self._admin.close()
