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

pytestmark = pytest.mark.integration


def cli(settings, *args, **env):
    full_env = {**os.environ, **settings.to_env(), **env}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True,
                          env=full_env, timeout=300)


def read_all(settings, topic):
    consumer = wiring.consumer(settings)
    got = []
    try:
        parts = [0, 1, 2]
        consumer.assign(topic, parts)
        ends = consumer.end_offsets(parts)
        for p in parts:
            consumer.seek(p, 0)
        while any(consumer.position(p) < ends[p] for p in parts):
            for records in consumer.poll(1.0).values():
                got.extend(records)
    finally:
        consumer.close()
    return got


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

    records = read_all(settings, topic)
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
    assert sorted(r.value for r in read_all(settings, topic)) == sorted(
        [b'{"video_id": "v1"}', b'{"video_id": "v2"}', b"plain"])


def test_produce_reads_stdin(stack_settings, make_topic):
    topic = make_topic(partitions=3)
    settings = stack_settings.replace(topic=topic)
    full_env = {**os.environ, **settings.to_env()}
    done = subprocess.run([sys.executable, "-m", "app", "produce", "-"], input=b"a\nb\n",
                          capture_output=True, env=full_env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(r.value for r in read_all(settings, topic)) == [b"a", b"b"]


def test_topics_create_is_idempotent_with_retention(stack_settings, stack):
    settings = stack_settings.replace(topic=f"views-{os.getpid()}", dlq_topic=f"views-{os.getpid()}.dlq")
    first, second = cli(settings, "topics", "create"), cli(settings, "topics", "create")
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout.count(b"created") == 2 and second.stdout.count(b"exists") == 2
    admin = wiring.topic_admin(settings)
    try:
        assert len(admin.partitions(settings.topic)) == settings.topic_partitions
    finally:
        admin.close()


def test_produce_without_a_broker_fails_with_one_line(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_bytes(b"{}\n")
    from devtools.sandbox import settings_for

    settings = settings_for(tmp_path)  # nothing listens on these ports
    done = cli(settings, "produce", str(path))
    assert done.returncode == 1
    assert done.stderr.strip().count(b"\n") == 0
    assert done.stderr.startswith(b"viewcount produce: error:") and b"no Kafka broker answered" in done.stderr
