"""One contract for every implementation of the Kafka seam, run against the real broker."""

from __future__ import annotations

import pytest

from adapters.kafka.exceptions import RecordTooLarge
from adapters.kafka.confluent import ConfluentAdmin, ConfluentConfig, ConfluentConsumer, ConfluentProducer
from adapters.kafka.kafka_python import (
    KafkaPythonAdmin, KafkaPythonConfig, KafkaPythonConsumer, KafkaPythonProducer,
)
from adapters.kafka.seam import TopicSpec
from devtools.sandbox import wait_for
from viewcount.partitioner import partition_of

pytestmark = pytest.mark.integration

IMPLEMENTATIONS = {
    "kafka-python": (KafkaPythonConfig, KafkaPythonProducer, KafkaPythonConsumer, KafkaPythonAdmin),
    "confluent-kafka": (ConfluentConfig, ConfluentProducer, ConfluentConsumer, ConfluentAdmin),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def client(request, stack_settings, stack):
    config_cls, producer_cls, consumer_cls, admin_cls = IMPLEMENTATIONS[request.param]
    made = []

    class Clients:
        def config(self, **kw):
            return config_cls.from_mapping({"bootstrap_servers": stack_settings.kafka_bootstrap, **kw})

        def producer(self, **kw):
            made.append(producer_cls(self.config(**kw)))
            return made[-1]

        def consumer(self, **kw):
            made.append(consumer_cls(self.config(**kw)))
            return made[-1]

        def admin(self):
            made.append(admin_cls(self.config()))
            return made[-1]

    yield Clients()
    for c in reversed(made):
        c.close()


def drain(consumer, expected: int, timeout_s: float = 30.0) -> list:
    got = []

    def more():
        for records in consumer.poll(0.5).values():
            got.extend(records)
        return len(got) >= expected

    wait_for(more, timeout_s, interval_s=0, what=f"{expected} records")
    return got


class TestSeamContract:
    def test_keyed_records_land_where_the_java_client_puts_them(self, client, make_topic):
        """CONTRACT §1: whichever client sends a video's views, they share the partition the Java
        client would choose, so dedup, the cap and ingest time see all of them."""
        topic = make_topic(partitions=7)
        producer = client.producer()
        keys = [f"vid_{i:06d}".encode() for i in range(300)] + [b"a", b"\xc3\xa9t\xc3\xa9", b"x" * 64]
        for key in keys:
            producer.send(topic, b"{}", key=key)
        producer.flush()
        consumer = client.consumer()
        consumer.assign(topic, list(range(7)))
        got = drain(consumer, len(keys))
        assert {r.key: r.partition for r in got} == {key: partition_of(key, 7) for key in keys}

    def test_round_trip_keeps_values_keys_timestamps_and_headers(self, client, make_topic):
        topic = make_topic(partitions=3)
        producer = client.producer()
        sent = [
            (b'{"video_id": "v1"}', b"v1", 1_700_000_000_123, 0, (("reason", b"x"),)),
            (b"\xff\x00 not utf-8 \x9c", None, 1_700_000_000_456, 1, ()),
            (b"", b"k", 1_700_000_001_000, 2, ()),
            (b"x" * 500_000, b"big", 1_700_000_002_000, 1, ()),
        ]
        deliveries = [producer.send(topic, v, key=k, timestamp_ms=ts, partition=p, headers=h)
                      for v, k, ts, p, h in sent]
        producer.flush()
        assert [d.error() for d in deliveries] == [None] * len(sent)
        consumer = client.consumer()
        consumer.assign(topic, [0, 1, 2])
        got = drain(consumer, len(sent))
        received = {(r.value, r.key, r.timestamp_ms, r.partition, r.headers) for r in got}
        assert received == set(sent)
        assert all(r.topic == topic for r in got)

    def test_offsets_are_in_order_per_partition_and_seek_rereads(self, client, make_topic):
        topic = make_topic(partitions=1)
        producer = client.producer()
        for i in range(20):
            producer.send(topic, str(i).encode(), partition=0)
        producer.flush()
        consumer = client.consumer()
        consumer.assign(topic, [0])
        got = drain(consumer, 20)
        assert [r.offset for r in got] == list(range(20))
        assert [r.value for r in got] == [str(i).encode() for i in range(20)]
        assert consumer.end_offsets([0]) == {0: 20}
        assert consumer.position(0) == 20
        consumer.seek(0, 15)
        assert [r.offset for r in drain(consumer, 5)] == [15, 16, 17, 18, 19]

    def test_log_bounds_and_time_lookups(self, client, make_topic):
        topic = make_topic(partitions=1)
        producer = client.producer()
        for i, ts in enumerate([1000, 2000, 3000]):
            producer.send(topic, b"%d" % i, partition=0, timestamp_ms=ts)
        producer.flush()
        consumer = client.consumer()
        consumer.assign(topic, [0])
        assert consumer.beginning_offsets([0]) == {0: 0}
        assert consumer.offsets_for_time([0], 1500) == {0: 1}
        assert consumer.offsets_for_time([0], 9999) == {0: None}
        consumer.seek(0, 2)
        consumer.seek_to_beginning(0)
        assert [r.offset for r in drain(consumer, 3)] == [0, 1, 2]

    def test_group_members_get_assignments_and_commits_are_where_the_group_resumes(
            self, client, make_topic):
        topic = make_topic(partitions=2)
        producer = client.producer()
        for i in range(10):
            producer.send(topic, b"m%d" % i, partition=i % 2)
        producer.flush()
        assigned = []
        first = client.consumer(group_id=f"{topic}-g")
        first.subscribe(topic, on_assign=assigned.extend)
        wait_for(lambda: first.poll(0.2) == {} and sorted(assigned) == [0, 1], 30, interval_s=0,
                 what="the assignment")
        for p in assigned:
            first.start(p, None)
        got = drain(first, 10)
        first.commit({0: 3, 1: 4})
        assert client.admin().group_member_count(f"{topic}-g") == 1
        first.close()
        wait_for(lambda: client.admin().group_member_count(f"{topic}-g") == 0, 30, what="the member to leave")
        second = client.consumer(group_id=f"{topic}-g")
        second.subscribe(topic)
        resumed = drain(second, 3)
        assert sorted((r.partition, r.offset) for r in resumed) == [(0, 3), (0, 4), (1, 4)]
        assert len(got) == 10

    def test_an_assigned_partition_waits_for_start_which_wins_over_committed_offsets(
            self, client, make_topic):
        topic = make_topic(partitions=2)
        producer = client.producer()
        for i in range(12):
            producer.send(topic, b"%d" % i, partition=i % 2)
        producer.flush()
        consumer = client.consumer(group_id=f"{topic}-g")
        assigned = []
        consumer.subscribe(topic, on_assign=assigned.extend)
        before_start = []
        wait_for(lambda: before_start.extend(consumer.poll(0.2).values()) or sorted(assigned) == [0, 1],
                 30, interval_s=0, what="the assignment")
        assert before_start == []  # nothing is delivered before start()
        consumer.start(0, 4)
        consumer.start(1, None)
        got = drain(consumer, 2 + 6)
        assert sorted((r.partition, r.offset) for r in got) == [(0, 4), (0, 5)] + [(1, o) for o in range(6)]
        assert consumer.partitions() == [0, 1]

    def test_a_joining_member_takes_over_only_partitions_that_move(self, client, make_topic):
        """Cooperative-sticky: the first member keeps what it is not asked to give up."""
        topic = make_topic(partitions=4)
        group = f"{topic}-g"
        events = {"a": [], "b": []}
        first, second = client.consumer(group_id=group), client.consumer(group_id=group)
        owned = {"a": set(), "b": set()}

        def track(name):
            def assigned(parts):
                events[name].append(("assigned", parts))
                owned[name].update(parts)

            def revoked(parts):
                events[name].append(("revoked", parts))
                owned[name].difference_update(parts)
            return assigned, revoked

        on_assign, on_revoke = track("a")
        first.subscribe(topic, on_assign=on_assign, on_revoke=on_revoke)
        wait_for(lambda: first.poll(0.2) is not None and owned["a"] == {0, 1, 2, 3}, 30, interval_s=0,
                 what="the first member to own every partition")
        on_assign, on_revoke = track("b")
        second.subscribe(topic, on_assign=on_assign, on_revoke=on_revoke)

        def balanced():
            first.poll(0.1)
            second.poll(0.1)
            return len(owned["a"]) == 2 and len(owned["b"]) == 2 and owned["a"] | owned["b"] == {0, 1, 2, 3}

        wait_for(balanced, 60, interval_s=0, what="two members with two partitions each")
        revoked_from_first = [p for kind, parts in events["a"] if kind == "revoked" for p in parts]
        assert sorted(revoked_from_first) == sorted(owned["b"])  # only what moved was revoked

    def test_a_restarted_static_member_takes_its_partitions_back_at_once(self, client, make_topic):
        """A static member that goes away without leaving (a crash) is replaced by its successor
        with the same instance id at once, not after the session timeout."""
        topic = make_topic(partitions=2)
        group = f"{topic}-g"
        assigned = []
        first = client.consumer(group_id=group, group_instance_id="host-a", session_timeout_ms=45_000)
        first.subscribe(topic, on_assign=assigned.extend)
        wait_for(lambda: first.poll(0.2) is not None and sorted(assigned) == [0, 1], 30, interval_s=0,
                 what="the first assignment")
        first.close()  # a static member does not leave the group: as after kill -9
        assigned.clear()
        again = client.consumer(group_id=group, group_instance_id="host-a", session_timeout_ms=45_000)
        again.subscribe(topic, on_assign=assigned.extend)
        # Well inside the 45 s session timeout that a new dynamic member would wait out.
        wait_for(lambda: again.poll(0.2) is not None and sorted(assigned) == [0, 1], 15, interval_s=0,
                 what="the restarted member's assignment")

    def test_a_record_over_the_size_limit_is_refused_at_once(self, client, make_topic):
        topic = make_topic(partitions=1)
        producer = client.producer()
        with pytest.raises(RecordTooLarge):
            producer.send(topic, b"x" * 2_000_000)

    def test_topics_are_created_idempotently(self, client, make_topic):
        admin = client.admin()
        name = make_topic(partitions=1) + "-new"
        spec = TopicSpec(name, 3, 1, {"retention.ms": str(9 * 86_400_000)})
        assert admin.ensure_topics([spec]) == {name: True}
        assert admin.ensure_topics([spec]) == {name: False}
        assert admin.partitions(name) == [0, 1, 2]
        assert admin.topic_configs(name)["retention.ms"] == str(9 * 86_400_000)
        assert admin.broker_count() == 1

    def test_a_timestamp_bound_reaches_an_existing_topic_and_refuses_records_stamped_ahead(self, client, make_topic):
        """CONTRACT §1: `topics create` also fixes a topic made before the bound existed."""
        import time

        admin = client.admin()
        topic = make_topic(partitions=1)  # made without the bound
        producer = client.producer()
        def send(value: bytes, ahead_ms: int):
            delivery = producer.send(topic, value, timestamp_ms=int(time.time() * 1000) + ahead_ms)
            producer.flush()
            return delivery.error()

        assert send(b"accepted before the bound", 10 * 60_000) is None
        bound = TopicSpec(topic, 1, 1, {"message.timestamp.after.max.ms": "60000"})
        assert admin.ensure_topics([bound]) == {topic: False}
        assert admin.topic_configs(topic)["message.timestamp.after.max.ms"] == "60000"
        refused = send(b"ten minutes ahead", 10 * 60_000)
        assert refused is not None and "timestamp" in str(refused).lower()
        assert send(b"now", 0) is None

    def test_delivery_callbacks_report_each_outcome_once_while_deliveries_are_served(self, client, make_topic):
        import time

        admin = client.admin()
        topic = make_topic(partitions=2)
        admin.ensure_topics([TopicSpec(topic, 2, 1, {"message.timestamp.after.max.ms": "60000"})])
        producer = client.producer()
        outcomes: list = []
        for i in range(5):
            producer.send(topic, b"v%d" % i, partition=0, on_done=outcomes.append)
        # Alone on its partition: the broker refuses a batch whole, and this one must be refused.
        producer.send(topic, b"ahead", partition=1, timestamp_ms=int(time.time() * 1000) + 10 * 60_000,
                      on_done=outcomes.append)

        def served():
            producer.serve_deliveries(0.1)
            return len(outcomes) == 6

        wait_for(served, 30, interval_s=0, what="six delivery reports")
        assert sorted(outcomes, key=lambda e: e is not None)[:5] == [None] * 5
        refused = [e for e in outcomes if e is not None]
        assert len(refused) == 1 and "timestamp" in str(refused[0]).lower()
        producer.serve_deliveries(0.2)
        assert len(outcomes) == 6   # once each

    def test_unknown_config_keys_are_rejected(self, client):
        from adapters.kafka.exceptions import KafkaSeamError

        with pytest.raises(KafkaSeamError, match="unknown"):
            client.config(no_such_option=1)
