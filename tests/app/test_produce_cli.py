"""generate → produce → read back, through the real CLI and the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from app import wiring
from devtools.generate import INGEST_TIME_FIELD
from ingestion.produce import as_object, ingest_time_of, key_of
from tests.conftest import read_topic

pytestmark = pytest.mark.integration


def cli(settings, *args, **env):
    full_env = {**os.environ, **settings.to_env(), **env}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True,
                          env=full_env, timeout=300)



def test_generated_traffic_round_trips_byte_for_byte(stack_settings, make_topic, tmp_path):
    topic = make_topic(partitions=3)
    settings = stack_settings.replace(topic=topic)
    done = cli(settings, "generate", "--events", "5000", "--seed", "3", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    truth = json.loads((tmp_path / "truth.json").read_text())
    lines = (tmp_path / "events.jsonl").read_bytes().split(b"\n")[:-1]

    done = cli(settings, "produce", str(tmp_path / "events.jsonl"), "--ingest-time-field", INGEST_TIME_FIELD)
    assert done.returncode == 0, done.stderr
    assert f"sent {truth['records']} records".encode() in done.stdout

    records = read_topic(settings, topic)
    assert len(records) == truth["records"] == len(lines)
    assert Counter(r.value for r in records) == Counter(lines)
    by_value = {r.value: r for r in records}
    for line in lines:
        record = by_value[line]
        assert record.key == key_of(as_object(line))
        stamped = ingest_time_of(line, INGEST_TIME_FIELD)
        if stamped is not None:
            assert record.timestamp_ms == stamped
    # All views of a video share a partition.
    partitions = {}
    for r in records:
        if r.key is not None:
            assert partitions.setdefault(r.key, r.partition) == r.partition


def test_a_refused_line_is_reported_by_number_and_the_rest_are_sent(stack_settings, make_topic, tmp_path):
    topic = make_topic(partitions=3)
    settings = stack_settings.replace(topic=topic)
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"video_id": "v1"}\n' + b"x" * 2_000_000 + b'\n{"video_id": "v2"}\nplain\n')
    done = cli(settings, "produce", str(path))
    assert done.returncode == 1
    assert b"line 2:" in done.stderr and b"too large" in done.stderr
    assert b"line 1:" not in done.stderr and b"line 3:" not in done.stderr
    assert sorted(r.value for r in read_topic(settings, topic)) == sorted(
        [b'{"video_id": "v1"}', b'{"video_id": "v2"}', b"plain"])


def test_produce_reads_stdin(stack_settings, make_topic):
    topic = make_topic(partitions=3)
    settings = stack_settings.replace(topic=topic)
    full_env = {**os.environ, **settings.to_env()}
    done = subprocess.run([sys.executable, "-m", "app", "produce", "-"], input=b"a\nb\n",
                          capture_output=True, env=full_env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(r.value for r in read_topic(settings, topic)) == [b"a", b"b"]


def test_topics_create_is_idempotent_with_retention(stack_settings, stack):
    settings = stack_settings.replace(topic=f"views-{os.getpid()}", dlq_topic=f"views-{os.getpid()}.dlq",
                                      audit_topic=f"audit-{os.getpid()}")
    first, second = cli(settings, "topics", "create"), cli(settings, "topics", "create")
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout.count(b"created") == 3 and second.stdout.count(b"exists") == 3
    assert f"created audit-{os.getpid()}: 1 partitions, retention forever".encode() in first.stdout
    admin = wiring.topic_admin(settings)
    try:
        assert len(admin.partitions(settings.topic)) == settings.topic_partitions
    finally:
        admin.close()


def test_produce_without_a_broker_fails_with_one_line(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_bytes(b"{}\n")
    from devtools.sandbox import settings_for

    settings = settings_for(tmp_path, kafka_request_timeout="3s")  # nothing listens on these ports
    done = cli(settings, "produce", str(path))
    assert done.returncode == 1
    assert done.stderr.strip().count(b"\n") == 0
    assert done.stderr.startswith(b"viewcount produce: error:") and b"no Kafka broker answered" in done.stderr


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_lines_stamped_too_far_ahead_are_refused_and_the_rest_are_sent(stack_settings, stack, tmp_path, client):
    """CONTRACT §1, §4: `topics create` bounds timestamps at MAX_CLOCK_SKEW ahead; `produce` refuses
    such a line itself, and a producer that does not is refused by the broker, that line only."""
    import time
    import uuid

    from ingestion.produce import produce_lines

    name = f"ahead-{uuid.uuid4().hex[:8]}"
    settings = stack_settings.replace(topic=name, dlq_topic=f"{name}.dlq", topic_partitions=3, kafka_client=client)
    assert cli(settings, "topics", "create").returncode == 0
    now = int(time.time() * 1000)
    ahead = {6: 10 * 60_000, 14: 30 * 86_400_000}          # line number → how far ahead it is stamped
    lines = [json.dumps({"video_id": f"v{n % 4}", "n": n, "ingest_time": _rfc3339(now + ahead.get(n, 0))}).encode()
             for n in range(1, 21)]
    path = tmp_path / "ahead.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    done = cli(settings, "produce", str(path), "--ingest-time-field", "ingest_time")
    assert done.returncode == 1
    reported = [line for line in done.stderr.decode().splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in reported] == ["line 6", "line 14"] and "MAX_CLOCK_SKEW" in reported[0]
    kept = sorted(line for n, line in enumerate(lines, start=1) if n not in ahead)
    assert sorted(r.value for r in read_topic(settings, name)) == kept

    # Another producer, without produce's own check: the broker refuses those two lines and no other
    # (the records that shared their batches are sent again on their own).
    producer = wiring.producer(settings)
    try:
        report = produce_lines(lines, producer, name, "ingest_time")
    finally:
        producer.close()
    assert [n for n, _ in report.failed] == [6, 14] and report.sent == 18
    assert "timestamp" in report.failed[0][1].lower()
    assert sorted(r.value for r in read_topic(settings, name)) == sorted(kept * 2)


def _rfc3339(ms: int) -> str:
    from viewcount.timeutil import format_ms

    return format_ms(ms)
