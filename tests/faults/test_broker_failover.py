"""A broker of a 3-broker cluster dies while records are produced, stored by the raw sink and
counted by the speed layer. Topics keep 3 replicas with ``min.insync.replicas=2``, so every
acknowledged record is on a surviving broker: the producer's unacknowledged batches are retried
to the new leaders (idempotently: once each), the sink and the speed layer find the new leaders
and the group coordinator that moved, and nothing is lost or counted twice."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from app import wiring
from app.background import Background
from devtools.generate import INGEST_TIME_FIELD, generate
from devtools.sandbox import wait_for
from devtools.stack.kafka_cluster import KAFKA_NODES, NODES, broker_ports, brokers_up
from ingestion.produce import produce_lines
from tests.ingestion.conftest import Scenario, assert_exact
from tests.speed_layer.conftest import SpeedScenario
from viewcount.timeutil import DAY_MS, now_ms

pytestmark = pytest.mark.integration

EVENTS = 30_000


def leader_of(settings, topic: str, partition: int) -> str:
    """The stack's name of the broker that leads ``partition`` of ``topic`` now."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).list_topics(topic, timeout=10)
    node_id = metadata.topics[topic].partitions[partition].leader
    return KAFKA_NODES[node_id - 1]


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_broker_killed_mid_run_loses_nothing_and_counts_nothing_twice(kafka_cluster, stack, tmp_path, client):
    name = f"failover-{uuid.uuid4().hex[:10]}"
    settings = kafka_cluster.replace(topic=name, dlq_topic=f"{name}.dlq", redis_prefix=name, speed_group=f"{name}-g",
                                     topic_partitions=4, raw_store=(tmp_path / "raw").as_uri(), kafka_client=client)
    admin = wiring.topic_admin(settings)
    try:
        admin.ensure_topics(wiring.topic_specs(settings)[:2])     # 3 replicas, min.insync.replicas=2
    finally:
        admin.close()
    end = now_ms()
    traffic = generate(EVENTS, 11, tmp_path / "traffic", end - DAY_MS // 2, end, settings.rules,
                       settings.as_public_dict())
    lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
    raw = Scenario(settings, wiring.raw_store(settings), lines, traffic.truth)
    speed = SpeedScenario(settings, traffic.truth, lines)
    sink, close_sink = raw.sink(flush_records=2000, flush_age_s=1.0)
    counter, close_counter = speed.counter()
    store = wiring.count_store(settings)
    runners = [Background(sink.run), Background(counter.run)]
    victim = leader_of(settings, name, 0)

    killed_at = []

    def kill_midway(sent: int) -> None:
        if sent == EVENTS // 3:       # a third sent: batches in flight to every leader, the victim's among them
            stack.process(victim).stop(sig=signal.SIGKILL)
            killed_at.append(time.monotonic())

    producer = wiring.producer(settings)
    try:
        report = produce_lines(lines, producer, name, INGEST_TIME_FIELD, progress=kill_midway,
                               max_in_flight=EVENTS)
        produced = time.monotonic()
        assert report.sent == len(lines) and not report.failed
        assert brokers_up(settings) == NODES - 1
        wait_for(lambda: sum(o + 1 for o in store.applied_offsets(name).values()) == len(lines), 120,
                 what="the speed layer through every record")
        counted = time.monotonic()
        wait_for(lambda: sum(sink.metrics.records_written(o) for o in ("valid", "invalid")) >= len(lines), 120,
                 what="the raw sink through every record")
        stored = time.monotonic()
    finally:
        producer.close()
        for member in (sink, counter):
            member.stop()
        try:
            for runner in runners:
                runner.join(120)
        finally:
            close_sink()
            close_counter()
            stack.up((victim,), progress=lambda line: None)
    wait_for(lambda: brokers_up(settings) == NODES, 60, what=f"{victim} back in the cluster at {broker_ports(settings)}")
    assert_exact(raw)
    assert speed.mismatches() == {}
    print(f"broker failover ({client}): {victim} killed after {EVENTS // 3:,} of {EVENTS:,} records; after the kill "
          f"the producer finished in {produced - killed_at[0]:.1f} s, the speed layer in {counted - killed_at[0]:.1f} s, "
          f"the raw sink in {stored - killed_at[0]:.1f} s")
