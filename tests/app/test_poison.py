"""Poison records (CONTRACT §1, §2 rules version 2): the largest record the broker accepts, NaN, a
repeated key and deep nesting, fed to both layers, which are killed and restarted around them.
Nothing stops, each poison record is kept whole with its reason, and every other record counts
exactly as the rules say."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import signal
import subprocess
import sys

import pytest

from app import wiring
from devtools.generate import INGEST_TIME_FIELD
from devtools.sandbox import wait_for
from ingestion.dead_letters import LOCATION
from ingestion.produce import produce_lines
from tests.conftest import read_topic
from tests.ingestion.conftest import assert_exact, make_scenario, rows  # noqa: F401  (the raw-sink scenario factory)
from viewcount.rawdata import QUARANTINE_ROOT
from viewcount.rules import RuleSettings, SourceRecord, apply_rules, tally
from viewcount.timeutil import parse_rfc3339_ms

pytestmark = pytest.mark.integration

# Bytes: just under the largest value a default broker (message.max.bytes, 1 MiB a batch) takes with
# either client (measured: 1,048,479 with kafka-python, 1,048,506 with confluent-kafka); with the
# dead-letter headers added, it no longer fits.
BIG = 1_048_470


def poison(ingest_time: str) -> dict[str, bytes]:
    event = {"event_id": "p1", "video_id": "vid_poison", "creator_id": "creator_poison", "viewer_id": "mallory",
             "event_time": ingest_time, "watch_ms": 45000, INGEST_TIME_FIELD: ingest_time}
    head = json.dumps(event)[:-1]
    big = (head + ', "pad": "').encode()
    return {
        # Random padding: compression must not shrink it under the limits it is meant to reach.
        "too_large": big + base64.b64encode(random.Random(7).randbytes(BIG))[:BIG - len(big) - 2] + b'"}',
        "nan": (head + ', "x": NaN}').encode(),
        "repeated_key": (head + ', "watch_ms": 10}').encode(),
        "too_deep": (head + ', "x": ' + "[" * 20_000 + "]" * 20_000 + "}").encode(),
    }


def layer(settings, command: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, **settings.to_env(), "VIEWCOUNT_INGEST_FLUSH_AGE": "1s", "VIEWCOUNT_INGEST_METRICS_PORT": "0",
           "VIEWCOUNT_SPEED_METRICS_PORT": "0", "VIEWCOUNT_KAFKA_GROUP_INSTANCE_ID": f"{command}-host"}
    return subprocess.Popen([sys.executable, "-m", "app", command, *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def send(settings, lines: list[bytes]) -> None:
    producer = wiring.producer(settings)
    try:
        report = produce_lines(lines, producer, settings.topic, INGEST_TIME_FIELD)
    finally:
        producer.close()
    assert report.failed == [] and report.sent == len(lines)


def send_poison(settings, values, timestamp_ms: int) -> None:
    """As a hostile producer would, keyed to one video: `produce` could not read the time of every one."""
    producer = wiring.producer(settings)
    try:
        deliveries = [producer.send(settings.topic, v, key=b"vid_poison", timestamp_ms=timestamp_ms) for v in values]
        producer.flush()
        assert [d.error() for d in deliveries] == [None] * len(deliveries)
    finally:
        producer.close()



def test_poison_records_stop_no_layer_and_change_no_count(make_scenario):
    scenario = make_scenario(events=1500, days=0.3, produce=False)
    name = scenario.settings.topic
    settings = scenario.settings.replace(redis_prefix=name, speed_group=f"{name}-speed", ingest_group=f"{name}-sink")
    half = len(scenario.lines) // 2
    # Stamped as early as the first record, so that they move no partition's ingest time (an
    # invalid record's timestamp counts for ingest time too): truth.json was made without them.
    first_time = json.loads(scenario.lines[0])[INGEST_TIME_FIELD]
    bad = poison(first_time)
    first = scenario.lines[:half] + list(bad.values())
    scenario.lines = first + scenario.lines[half:]

    # 1. Both layers meet the poison, and are killed (kill -9) once they are past it.
    send(settings, scenario.lines[:half])
    send_poison(settings, bad.values(), parse_rfc3339_ms(first_time))
    sink, speed = layer(settings, "ingest"), layer(settings, "speed")
    counts = wiring.count_store(settings)
    try:
        wait_for(lambda: len(read_topic(settings, settings.dlq_topic)) >= len(bad)
                 and sum(o + 1 for o in counts.applied_offsets(name).values()) == len(first),
                 120, interval_s=0.5, what="both layers past the poison records")
        assert sink.poll() is None and speed.poll() is None, "a layer stopped on a poison record"
    finally:
        for proc in (sink, speed):
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)

    # 2. Restarted, they take the rest and finish cleanly.
    send(settings, scenario.lines[len(first):])
    sink, speed = layer(settings, "ingest", "--until-idle", "3"), layer(settings, "speed", "--until-idle", "3")
    for proc in (sink, speed):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]

    # 3. Each poison record is kept whole, with its reason, once.
    valid, quarantined = assert_exact(scenario)
    kept = {r["value"]: r["reason"] for r in quarantined if r["value"] in set(bad.values())}
    assert kept == {bad["too_large"]: "too_large", bad["nan"]: "not_json", bad["repeated_key"]: "not_json",
                    bad["too_deep"]: "too_deep"}
    # Dead letters are at least once (a kill between their send and the range's commit sends them
    # again, and a location may then name the range file of the attempt that did not commit), so
    # they are compared per source record.
    poisoned = {(r["partition"], r["offset"]): r["value"] for r in quarantined if r["value"] in set(bad.values())}
    letters = {}
    for r in read_topic(settings, settings.dlq_topic):
        source = (int(dict(r.headers)["source_partition"]), int(dict(r.headers)["source_offset"]))
        if source in poisoned:
            letters.setdefault(source, []).append((dict(r.headers).get("dlq_content"), r.value))
    assert set(letters) == set(poisoned)
    for source, copies in letters.items():
        if poisoned[source] != bad["too_large"]:
            assert {copy for copy in copies} == {(None, poisoned[source])}   # carried whole
            continue
        locations = [json.loads(value) for content, value in copies if content == LOCATION]
        assert len(locations) == len(copies)                                # too large to carry: where it is kept
        for location in locations:
            assert (location["size"], location["sha256"]) == (BIG, hashlib.sha256(bad["too_large"]).hexdigest())
            assert (location["topic"], location["partition"], location["offset"]) == (name, *source)
        kept = [loc["quarantine"][len(scenario.store.url) + 1:] for loc in locations]
        assert any(scenario.store.exists(path) for path in kept)            # the committed file, at least

    # 4. Every other record counts exactly: in the speed layer and in the master dataset.
    views = wiring.view_reader(settings)
    wrong = {v: (views.video_views(v).views, t["views"]) for v, t in scenario.truth["videos"].items()
             if views.video_views(v).views != t["views"]}
    assert wrong == {} and views.video_views("vid_poison").views == 0
    records = sorted((SourceRecord(r["partition"], r["offset"], int(r["timestamp"].timestamp() * 1000), r["value"])
                      for r in valid + quarantined), key=lambda r: (r.partition, r.offset))
    assert tally(apply_rules(records, RuleSettings())).videos == {
        v: d["views"] for v, d in scenario.truth["videos"].items() if d["views"]}
    assert len(rows(scenario.store, QUARANTINE_ROOT)) == scenario.truth["outcomes"]["invalid"] + len(bad)
