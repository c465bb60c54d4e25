"""The raw sink on the real broker, local disk and real HDFS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest

from ingestion.chunk import file_metadata
from app import wiring
from viewcount.events import parse_event
from viewcount.rawdata import QUARANTINE_ROOT, FlushProgress, progress_path
from viewcount.rules import RuleSettings, SourceRecord, apply_rules, tally
from devtools.sandbox import free_ports, wait_for
from tests.ingestion.conftest import assert_exact, rows

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("store, client", [
    ("local", "kafka-python"), ("local", "confluent-kafka"),
    pytest.param("hdfs", "kafka-python", marks=pytest.mark.hdfs),
])
def test_generated_traffic_is_written_exactly_once(make_scenario, store, client, request):
    if store == "hdfs":
        request.getfixturevalue("hdfs")
    # HDFS: a few hours of traffic, so the run writes tens of files rather than hundreds.
    scenario = make_scenario(events=6000, store=store, days=2 if store == "local" else 0.15)
    scenario.settings = scenario.settings.replace(kafka_client=client)
    sink = scenario.run_sink(flush_records=700)
    valid, quarantined = assert_exact(scenario)
    assert len(quarantined) == scenario.truth["outcomes"]["invalid"]
    assert all(r["reason"] and r["reason_detail"] for r in quarantined)
    # Contract columns are typed and equal the parsed event; ingest time is the running maximum.
    for row in valid[:500]:
        event = parse_event(row["value"])
        assert (row["video_id"], row["event_id"], row["watch_ms"]) == (event.video_id, event.event_id, event.watch_ms)
        assert int(row["event_time"].timestamp() * 1000) == event.event_time_ms
        assert row["ingest_time"] >= row["timestamp"]
    # The rules over the files give truth.json.
    records = sorted((SourceRecord(r["partition"], r["offset"], int(r["timestamp"].timestamp() * 1000), r["value"])
                      for r in valid + quarantined), key=lambda r: (r.partition, r.offset))
    assert tally(apply_rules(records, RuleSettings())).videos == {
        v: d["views"] for v, d in scenario.truth["videos"].items()}
    assert sink.metrics.records.labels("valid")._value.get() == len(valid)


def test_dead_letters_carry_the_original_bytes_and_the_reason(make_scenario):
    bad = [b"\xff\xfe not utf-8", b'{"video_id": "v1", "event_id": "e"}', b"[1]"]
    scenario = make_scenario(lines=[*bad, b'{"x": 1}'])
    scenario.run_sink()
    consumer = wiring.consumer(scenario.settings)
    got = []
    try:
        consumer.assign(scenario.settings.dlq_topic, [0, 1, 2])
        wait_for(lambda: got.extend(r for rs in consumer.poll(0.5).values() for r in rs) or len(got) >= 4,
                 30, interval_s=0, what="dead letters")
    finally:
        consumer.close()
    assert sorted(r.value for r in got) == sorted([*bad, b'{"x": 1}'])
    for r in got:
        headers = dict(r.headers)
        assert headers["reason"] and headers["source_topic"] == scenario.settings.topic.encode()
        assert int(headers["source_offset"]) >= 0 and int(headers["source_partition"]) in (0, 1, 2)
    assert {r["reason"] for r in rows(scenario.store, QUARANTINE_ROOT)} == {"not_utf8", "missing_field", "not_object"}


def test_hostile_records_are_quarantined_and_the_sink_keeps_going(make_scenario):
    good = json.dumps({"event_id": "e1", "video_id": "v1", "creator_id": "c1", "viewer_id": "u1",
                       "event_time": "2026-11-21T10:00:00Z", "watch_ms": 40000}).encode()
    hostile = [
        b'{"pad": "' + b"x" * 900_000 + b'"}',
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b"\xc3\x28 invalid utf-8",
        b'{"event_id": "e\x00", "video_id": "v1"}',
        json.dumps({"event_id": "e2", "video_id": "v\u0001\u0007", "creator_id": "c", "viewer_id": "u",
                    "event_time": "2026-11-21T10:00:00Z", "watch_ms": 1}).encode(),
        json.dumps({"event_id": "e3", "video_id": "../../etc/passwd", "creator_id": "c", "viewer_id": "u",
                    "event_time": "2026-11-21T10:00:00Z", "watch_ms": 1}).encode(),
    ]
    scenario = make_scenario(lines=[good, *hostile, good.replace(b"e1", b"e9")], partitions=1)
    scenario.run_sink()
    valid, quarantined = assert_exact(scenario)
    assert sorted(r["event_id"] for r in valid) == ["e1", "e9"]
    reasons = {r["offset"]: r["reason"] for r in quarantined}
    assert reasons == {1: "too_large", 2: "too_deep", 3: "too_deep", 4: "not_utf8", 5: "not_json",
                       6: "bad_id", 7: "bad_id"}


def test_a_restart_resumes_after_the_files_and_carries_the_ingest_time(make_scenario):
    scenario = make_scenario(events=3000)
    scenario.run_sink(flush_records=500)
    first = rows(scenario.store) + rows(scenario.store, QUARANTINE_ROOT)
    more = [json.dumps({"event_id": f"late{i}", "video_id": "vid_000001", "creator_id": "c", "viewer_id": "u",
                        "event_time": "2020-01-01T00:00:00Z", "watch_ms": 40000,
                        "ingest_time": "2020-01-01T00:00:00Z"}).encode() for i in range(5)]
    from ingestion.produce import produce_lines

    producer = wiring.producer(scenario.settings)
    produce_lines(more, producer, scenario.settings.topic, "ingest_time")
    producer.close()
    scenario.lines += more
    scenario.run_sink(flush_records=500)
    valid, _ = assert_exact(scenario)
    late = [r for r in valid if r["event_id"].startswith("late")]
    # An old timestamp does not move the partition clock backwards across the restart.
    partition_max = max(r["ingest_time"] for r in first if r["partition"] == late[0]["partition"])
    assert all(r["ingest_time"] == partition_max for r in late)


def test_flush_progress_and_metrics(make_scenario):
    scenario = make_scenario(events=2000)
    port = free_ports(1)[0]
    sink, close = scenario.sink(flush_records=400)
    sink.metrics.serve(port)
    try:
        sink.run(until_idle_s=2)
    finally:
        close()
    written = rows(scenario.store) + rows(scenario.store, QUARANTINE_ROOT)
    for p in range(3):
        progress = FlushProgress.from_json(scenario.store.read(progress_path(scenario.settings.topic, p)))
        mine = [r for r in written if r["partition"] == p]
        assert progress.flushed_offset == max(r["offset"] for r in mine)
        assert progress.complete_before_ms == max(int(r["ingest_time"].timestamp() * 1000) for r in mine)
        assert progress.idle_since_ms is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
        text = answer.read().decode()
    for name in ("viewcount_ingest_records_total", "viewcount_ingest_files_total", "viewcount_ingest_bytes_total",
                 "viewcount_ingest_flush_seconds_bucket", "viewcount_ingest_consumer_lag",
                 "viewcount_ingest_flush_progress_age_seconds"):
        assert name in text
    assert 'viewcount_ingest_consumer_lag{partition="0"} 0.0' in text


def test_files_carry_their_range_and_are_never_rewritten(make_scenario):
    scenario = make_scenario(events=1500)
    scenario.run_sink(flush_records=300)
    files = [f for f in scenario.store.walk("views/v1") if f.path.endswith(".parquet")]
    before = {f.path: scenario.store.read(f.path) for f in files}
    for f in files:
        meta = file_metadata(before[f.path])
        assert f.path.endswith(f"-{meta['partition']}-{meta['first_offset']:020d}-{meta['last_offset']:020d}.parquet")
    # A second run over the same topic and group finds everything committed and writes nothing.
    scenario.run_sink(flush_records=300)
    after = [f for f in scenario.store.walk("views/v1") if f.path.endswith(".parquet")]
    assert {f.path: scenario.store.read(f.path) for f in after} == before


def test_revoked_partitions_are_taken_over_exactly(make_scenario):
    scenario = make_scenario(events=4000)
    first, close_first = scenario.sink(flush_records=250, flush_age_s=60, instance="member-1")

    def run_first():
        try:
            first.run(until_idle_s=8)
        finally:
            close_first()

    runner = threading.Thread(target=run_first)
    runner.start()
    wait_for(lambda: any(s.chunk is not None or s.flushed_offset >= 0 for s in list(first._partitions.values())),
             30, what="the first sink to start")
    second, close_second = scenario.sink(flush_records=250, flush_age_s=60, instance="member-2")
    second.run(until_idle_s=4)
    runner.join(60)
    close_second()
    assert_exact(scenario)


def test_ctrl_c_stops_the_sink_after_flushing_what_it_holds(make_scenario):
    """The last ingest hour's records are still buffered (the flush age is an hour away) when
    SIGINT arrives: they are written before the process exits 0."""
    scenario = make_scenario(events=600, days=0.1, partitions=2)
    port = free_ports(1)[0]
    env = {**os.environ, **scenario.settings.to_env(), "VIEWCOUNT_INGEST_METRICS_PORT": str(port),
           "VIEWCOUNT_INGEST_FLUSH_AGE": "1h", "VIEWCOUNT_INGEST_GROUP": f"sink-{scenario.settings.topic}"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "ingest"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def consumed_to_the_end() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return False
        lags = [line for line in text.splitlines() if line.startswith("viewcount_ingest_consumer_lag{")]
        return len(lags) == 2 and all(line.endswith(" 0.0") for line in lags)

    try:
        wait_for(consumed_to_the_end, 90, interval_s=0.2, what="the sink to consume every record")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"raw sink stopped" in out
    assert_exact(scenario)


def test_the_sink_flushes_by_bytes_over_all_partitions(make_scenario):
    """RAW_FLUSH_BYTES bounds what the sink holds, whatever the record count bound says."""
    lines = [json.dumps({"video_id": f"vid_{i % 7}", "pad": "x" * 1000, "n": i}).encode() for i in range(300)]
    scenario = make_scenario(lines=lines)
    sink = scenario.run_sink(flush_records=1_000_000, flush_bytes=20_000)
    assert_exact(scenario)
    files = [f for f in scenario.store.walk("quarantine/v1") if f.path.endswith(".parquet")]
    assert len(files) >= 300 * 1000 // 20_000           # each flush freed what the budget allowed
    held = [file_metadata(scenario.store.read(f.path))["invalid"] for f in files]
    assert max(held) <= 20 and sum(held) == 300          # never much more than 20 kB of values at once
    assert sink._buffered_bytes == 0


def test_each_records_headers_are_kept_with_it(make_scenario, spark):
    """CONTRACT §8: what the edge saw of the client travels as headers; the master dataset keeps
    them with the record, valid or not, and a recompute (Spark) reads them."""
    good = json.dumps({"event_id": "e1", "video_id": "v1", "creator_id": "c1", "viewer_id": "u1",
                       "event_time": "2026-11-21T10:00:00Z", "watch_ms": 40000}).encode()
    stamped = [("vc-source", b"web-player"), ("vc-ip-prefix", b"203.0.113.0/24"), ("vc-source", b"again")]
    scenario = make_scenario(lines=[good, b"not json", b'{"plain": 1}'], produce=False)
    producer = wiring.producer(scenario.settings)
    try:
        deliveries = [producer.send(scenario.settings.topic, good, key=b"v1", headers=stamped),
                      producer.send(scenario.settings.topic, b"not json", headers=[("vc-user-agent", "é".encode())]),
                      producer.send(scenario.settings.topic, b'{"plain": 1}')]
        producer.flush()
        assert [d.error() for d in deliveries] == [None, None, None]
    finally:
        producer.close()
    scenario.run_sink()
    as_pairs = lambda row: [(h["key"], h["value"]) for h in row["headers"]]  # noqa: E731
    assert [as_pairs(r) for r in rows(scenario.store)] == [stamped]
    assert sorted(as_pairs(r) for r in rows(scenario.store, QUARANTINE_ROOT)) == [[], [("vc-user-agent", "é".encode())]]
    read = spark.read.option("mergeSchema", "true").parquet(f"{scenario.store.url}/views/v1")
    assert [[(h["key"], bytes(h["value"])) for h in r["headers"]] for r in read.select("headers").collect()] == [stamped]
