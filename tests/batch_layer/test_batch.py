"""The Spark plan equals the pure rules record for record; batch + speed equals the truth."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone

import pytest

from batch_layer.job import run_batch
from batch_layer.spark_rules import classify
from batch_layer.watermark import check_watermark, safe_watermark
from batch_layer.exceptions import WatermarkError
from app import wiring
from viewcount.events import ViewEvent
from viewcount.rules import RuleSettings, SourceRecord, apply_rules, tally
from viewcount.timeutil import HOUR_MS, format_ms
from tests.conftest import redis_stores, with_ledger
from tests.ingestion.conftest import rows
from tests.viewcount.test_rules import SMALL, T0, value

pytestmark = pytest.mark.integration


def random_streams(seed: int, streams: int, size: int) -> list[SourceRecord]:
    """Many small adversarial streams in one list; each stream has videos of its own."""
    rng = random.Random(seed)
    out = []
    for s in range(streams):
        clock, sent = T0, []
        for offset in range(size):
            clock += rng.choice([0, 1, 60_000, 20 * 60_000, HOUR_MS, 3 * HOUR_MS])
            ts = clock - rng.choice([0, 0, 0, 30 * 60_000, 3 * HOUR_MS])
            kind = rng.choice(["view", "view", "view", "resend", "junk"])
            if kind == "resend" and sent:
                v = rng.choice(sent)
            elif kind == "junk":
                v = rng.choice([b"{}", b"\xff", b"[1]"])
            else:
                v = value(rng.choice(["e1", "e2", "e3"]), f"s{s}v{rng.randrange(2)}", rng.choice(["u1", "u2"]),
                          f"c{s}", ts + rng.choice([-3 * HOUR_MS, -HOUR_MS, -1, 0, 4 * 60_000, 6 * 60_000]),
                          rng.choice([0, 29_999, 30_000, 60_000]))
                sent.append(v)
            out.append(SourceRecord(s, offset, ts, v))
    return out


def test_spark_plan_equals_the_rules_record_for_record(spark):
    records = random_streams(seed=3, streams=300, size=40)
    decisions = list(apply_rules(records, SMALL))
    data = []
    for d, r in zip(decisions, records):
        if isinstance(d.event, ViewEvent):
            e = d.event
            data.append((r.partition, r.offset, e.video_id, e.event_id, e.creator_id, e.viewer_id,
                         datetime.fromtimestamp(e.event_time_ms / 1000, tz=timezone.utc),
                         datetime.fromtimestamp(d.ingest_ms / 1000, tz=timezone.utc), e.watch_ms, e.fingerprint()))
    df = spark.createDataFrame(data, "partition int, offset long, video_id string, event_id string, "
                                     "creator_id string, viewer_id string, event_time timestamp, "
                                     "ingest_time timestamp, watch_ms long, fingerprint binary")
    got = {(r["partition"], r["offset"]): r["outcome"] for r in classify(df, SMALL).collect()}
    expected = {(d.partition, d.offset): d.outcome.value for d in decisions if d.event is not None}
    assert got == expected
    assert len({v for v in expected.values()}) >= 6  # the streams reach most outcomes


def test_watermark_is_the_slowest_partition_and_a_later_one_is_refused(make_scenario):
    scenario = make_scenario(events=1500, days=0.2)
    scenario.run_sink()
    safe = safe_watermark(scenario.store, scenario.settings.topic, [0, 1, 2])
    assert safe % HOUR_MS == 0
    assert check_watermark(safe - HOUR_MS, safe) == safe - HOUR_MS
    with pytest.raises(WatermarkError, match="past what every partition has flushed"):
        check_watermark(safe + HOUR_MS, safe)
    with pytest.raises(WatermarkError, match="hour boundary"):
        check_watermark(safe - 1, safe)
    with pytest.raises(WatermarkError, match="no flush progress"):
        safe_watermark(scenario.store, scenario.settings.topic, [0, 1, 2, 3])


@pytest.mark.parametrize("store", ["local", pytest.param("hdfs", marks=pytest.mark.hdfs)])
def test_batch_plus_speed_equals_the_truth_at_the_boundary(make_scenario, spark, store, request):
    from speed_layer.counter import SpeedConfig, SpeedCounter
    from speed_layer.metrics import SpeedMetrics
    from batch_layer.publish import publish
    from fastapi.testclient import TestClient

    from serving_layer.app import create_app
    from serving_layer.auth import Authenticator

    if store == "hdfs":
        request.getfixturevalue("hdfs")
    scenario = make_scenario(events=8000, days=0.5 if store == "local" else 0.15, store=store)
    scenario.run_sink(flush_records=1000)
    settings = with_ledger(scenario.settings, scenario.settings.raw_store + "-audit",
                           redis_prefix=f"b{uuid.uuid4().hex[:8]}")
    # W inside the traffic, on an hour where a record was ingested exactly at W, as a re-send of
    # a view ingested before W: records on both sides, one right at W, a duplicate straddling it.
    all_rows = rows(scenario.store) + rows(scenario.store, "quarantine/v1")
    ingest_ms = lambda r: int(r["ingest_time"].timestamp() * 1000)  # noqa: E731
    median = sorted(ingest_ms(r) for r in all_rows)[len(all_rows) // 2]
    safe = safe_watermark(scenario.store, settings.topic, [0, 1, 2])
    at_boundary = sorted({ingest_ms(r) for r in all_rows if ingest_ms(r) % HOUR_MS == 0 and ingest_ms(r) <= safe},
                         key=lambda t: abs(t - median))
    assert at_boundary, "the generator puts a record on every hour boundary inside the traffic"
    watermark = check_watermark(at_boundary[0], safe)
    views = rows(scenario.store)
    before_w = {(r["video_id"], r["event_id"]) for r in views if ingest_ms(r) < watermark}
    assert any((r["video_id"], r["event_id"]) in before_w for r in views if ingest_ms(r) == watermark)
    result = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic,
                       max_invalid_share=0.2)   # a small sample: see the data-check test

    # The batch covers exactly the records ingested before W: the rules over that prefix.
    prefix = sorted((SourceRecord(r["partition"], r["offset"], int(r["timestamp"].timestamp() * 1000), r["value"])
                     for r in all_rows if int(r["ingest_time"].timestamp() * 1000) < watermark),
                    key=lambda r: (r.partition, r.offset))
    expected = tally(apply_rules(prefix, RuleSettings()))
    assert {v: n for v, (n, _) in result.views.collect_totals().items()} == dict(expected.videos)
    assert {v: o for v, (_, o) in result.views.collect_totals().items()} == expected.owners
    assert result.outcomes == dict(expected.outcomes)

    consumer = wiring.consumer(settings, group_id=f"speed-{settings.redis_prefix}")
    stores = redis_stores(settings)
    counter = SpeedCounter(SpeedConfig(settings.topic, settings.rules, 86_400_000),
                           consumer, stores.counts, SpeedMetrics())
    try:
        counter.run(until_idle_s=2)
    finally:
        consumer.close()
    ledger = wiring.audit_ledger(settings)
    record = publish(result, stores.batch, ledger, actor="test")
    assert record["kind"] == "batch_publish" and ledger.verify_anchored().records >= 1
    assert stores.batch.batch_pointer() == (result.version, watermark)
    for video, truth in scenario.truth["videos"].items():
        merged = stores.views.video_views(video)
        assert merged.views == merged.batch_views + merged.speed_views == truth["views"], video
        assert merged.hourly == {int(datetime.strptime(h, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp() * 1000): n
                                 for h, n in truth["hourly"].items()}
        assert merged.batch_watermark_ms == watermark
    # And through the HTTP API, as creators read it.
    with TestClient(create_app(wiring.serving_reader(settings), Authenticator("admin" * 8, {}), None,
                               settings.topic)) as api:
        for video, truth in scenario.truth["videos"].items():
            doc = api.get(f"/v1/videos/{video}/views", headers={"Authorization": "Bearer " + "admin" * 8}).json()
            assert doc["views"] == doc["batch_views"] + doc["speed_views"] == truth["views"], video
            assert doc["batch_watermark"] == format_ms(watermark)
    manifest = result.manifest
    assert manifest["watermark"] == format_ms(watermark) and manifest["inputs"]
    assert all(f["sha256"] and f["size"] > 0 for f in manifest["inputs"])


def test_a_version_that_fails_a_data_check_is_not_published(make_scenario, spark):
    from audit.ledger import AuditLedger
    from batch_layer.exceptions import ChecksFailed
    from batch_layer.publish import publish

    scenario = make_scenario(events=1500, days=0.2)
    scenario.run_sink()
    settings = with_ledger(scenario.settings, scenario.settings.raw_store + "-audit",
                           redis_prefix=f"c{uuid.uuid4().hex[:8]}")
    watermark = safe_watermark(scenario.store, settings.topic, [0, 1, 2])
    # Generated traffic is ~2% invalid overall, but a partition holding few videos can run to
    # several percent in a small sample: the passing run allows 20%, the failing one 0.1%.
    good = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic, max_invalid_share=0.2)
    assert good.checks_passed, good.failed_checks()
    assert {c.name for c in good.checks} == {"raw_schema", "raw_batch", "batch_views", "reconcile"}
    assert good.manifest["inputs_hashed"]["files"] == len(good.manifest["inputs"])
    # Computed over the first version, in full (its raw records are what is checked): the same
    # raw files keep the digests it recorded.
    strict = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic, max_invalid_share=0.001,
                       based_on=good.version, full=True)
    assert strict.manifest["inputs_hashed"] == {"files": 0, "bytes": 0}
    assert strict.manifest["inputs"] == good.manifest["inputs"]
    assert not strict.checks_passed and "raw_batch" in strict.failed_checks()
    store = wiring.batch_views(settings)
    ledger = AuditLedger(wiring.file_store(settings, settings.audit_store))
    with pytest.raises(ChecksFailed, match="expect_column_values_to_be_between"):
        publish(strict, store, ledger)
    assert store.batch_pointer() is None and ledger.records() == []
    assert scenario.store.exists(strict.checks_path.split(scenario.store.url + "/", 1)[1])


def test_readers_never_see_a_mix_of_versions_while_publishing(make_scenario, spark):
    """Two versions with different counts for every video; a reader polling while the pointer
    flips back and forth must always see one version's numbers whole."""
    import threading

    scenario = make_scenario(events=2000, days=0.2)
    scenario.run_sink()
    settings = scenario.settings.replace(redis_prefix=f"m{uuid.uuid4().hex[:8]}")
    stores = redis_stores(settings)
    watermark = safe_watermark(scenario.store, settings.topic, [0, 1, 2])
    videos = [f"vid_{i:06d}" for i in range(30)]
    version_a = {v: (10, "c1") for v in videos}
    version_b = {v: (20, "c2") for v in videos}
    hourly_a = {v: {watermark - HOUR_MS: 10} for v in videos}
    hourly_b = {v: {watermark - HOUR_MS: 5, watermark - 2 * HOUR_MS: 15} for v in videos}
    stores.batch.publish_batch("va", watermark, version_a, hourly_a, 3600)
    seen, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            for v in videos:
                got = stores.views.video_views(v)
                seen.append((got.batch_version, got.batch_views, got.creator_id, sum(got.hourly.values())))

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(20):
        if i % 2:
            stores.batch.publish_batch("va", watermark, version_a, hourly_a, 3600)
        else:
            stores.batch.publish_batch("vb", watermark, version_b, hourly_b, 3600)
    stop.set()
    reader.join()
    assert seen and set(seen) <= {("va", 10, "c1", 10), ("vb", 20, "c2", 20)}
