"""The Lambda invariant, property-tested: for any stream and any hour boundary W, the Spark batch
over the records ingested before W, published, plus the speed layer (real Redis) at or after W,
read through the serving store's merged read, equals the rules over the whole stream."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_layer.aggregate import aggregate
from batch_layer.spark_rules import classify
from viewcount.events import ViewEvent
from viewcount.rules import Outcome, apply_rules, tally
from tests.conftest import redis_stores
from viewcount.timeutil import HOUR_MS, hour_floor
from tests.speed_layer.test_parity import run_through_redis
from tests.viewcount.test_rules import PARTITIONS, SMALL, T0, streams

pytestmark = pytest.mark.integration

VALID_COLUMNS = ("partition int, offset long, video_id string, event_id string, creator_id string, "
                 "viewer_id string, event_time timestamp, ingest_time timestamp, watch_ms long, "
                 "fingerprint binary")


def renumbered(records):
    """Offsets are the log's, per partition."""
    counters = Counter()
    out = []
    for r in records:
        out.append(type(r)(r.partition, counters[r.partition], r.timestamp_ms, r.value))
        counters[r.partition] += 1
    return out


def batch_views(spark, decisions, records, watermark_ms):
    """What the batch job computes from the raw rows ingested before W."""
    def ts(ms):
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)

    rows = [(r.partition, r.offset, d.event.video_id, d.event.event_id, d.event.creator_id, d.event.viewer_id,
             ts(d.event.event_time_ms), ts(d.ingest_ms), d.event.watch_ms, d.event.fingerprint())
            for d, r in zip(decisions, records)
            if isinstance(d.event, ViewEvent) and d.ingest_ms < watermark_ms]
    counted = classify(spark.createDataFrame(rows, VALID_COLUMNS), SMALL).where(f"outcome = '{Outcome.COUNTED.value}'")
    hourly_df, totals_df, _ = aggregate(counted)
    totals = {r["video_id"]: (r["views"], r["creator_id"]) for r in totals_df.collect()}
    hourly: dict[str, dict[int, int]] = {}
    for r in hourly_df.collect():
        hourly.setdefault(r["video_id"], {})[int(r["event_hour"])] = r["views"]
    return totals, hourly


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams(max_size=80), data=st.data())
def test_batch_before_w_plus_speed_from_w_equals_the_rules(spark, redis_client, stream, data):
    records = renumbered(stream)
    decisions = list(apply_rules(records, SMALL))
    # W anywhere: before the stream, between any two ingest hours, after it.
    boundaries = sorted({hour_floor(T0)} | {hour_floor(d.ingest_ms) + HOUR_MS for d in decisions})
    watermark = data.draw(st.sampled_from(boundaries), label="W")

    stores = redis_stores(client=redis_client, prefix=f"li{uuid.uuid4().hex[:10]}", partitions=PARTITIONS)
    run_through_redis(stores.counts, records, [5])
    totals, hourly = batch_views(spark, decisions, records, watermark)
    stores.batch.publish_batch("v1", watermark, totals, hourly, grace_s=60)

    expected = tally(decisions)
    for video in {d.event.video_id for d in decisions if isinstance(d.event, ViewEvent)}:
        merged = stores.views.video_views(video)
        assert merged.views == expected.videos.get(video, 0), video
        assert merged.hourly == {h: n for (v, h), n in expected.hourly.items() if v == video}, video
        if expected.videos.get(video):
            assert merged.creator_id == expected.owners[video], video
