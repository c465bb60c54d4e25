"""After a publish, batch and speed are compared on the records both hold: the comparison itself
(pure), and on the real services an agreement, then a drift named by video and hour."""

from __future__ import annotations

import json
import uuid

import pytest

from app import wiring
from app.reconcile import reconcile_publish
from batch_layer.job import run_batch
from batch_layer.publish import publish
from batch_layer.reconcile import REPORT_FILE, HourDifference, compare
from batch_layer.version_views import VersionFiles
from batch_layer.watermark import check_watermark, safe_watermark
from speed_layer.counter import SpeedConfig, SpeedCounter
from viewcount import keys
from viewcount.rawdata import BATCH_ROOT
from viewcount.timeutil import DAY_MS, HOUR_MS, hour_floor
from tests.conftest import redis_stores, with_ledger

H0, H1, H2 = 0, HOUR_MS, 2 * HOUR_MS


def test_every_hour_either_layer_counted_is_compared_and_differences_are_named():
    report = compare("ver", H1, H2, {"v1": {H0: 1, H1: 2}, "v2": {H1: 1}}, {"v1": {H0: 1, H1: 3}, "v3": {H1: 4}})
    assert (report.videos, report.hours) == (3, 4)
    assert report.differences == [HourDifference("v1", H1, 2, 3), HourDifference("v2", H1, 1, 0),
                                  HourDifference("v3", H1, 0, 4)]
    assert report.to_json()["differences"][0] == {"video_id": "v1", "event_hour_ms": H1, "batch": 2, "speed": 3,
                                                  "event_hour": "1970-01-01T01:00:00.000Z"}


@pytest.mark.integration
def test_after_a_publish_batch_and_speed_agree_and_a_drift_is_named(make_scenario, spark, redis_client):
    scenario = make_scenario(events=3000, days=0.3, partitions=2)
    scenario.run_sink(flush_records=1000)
    settings = with_ledger(scenario.settings, scenario.settings.raw_store + "-audit",
                           redis_prefix=f"r{uuid.uuid4().hex[:8]}")
    stores = redis_stores(settings)
    consumer = wiring.consumer(settings, group_id=f"speed-{settings.redis_prefix}")
    try:
        SpeedCounter(SpeedConfig(settings.topic, settings.rules, 30 * DAY_MS), consumer, stores.counts).run(
            until_idle_s=2)
    finally:
        consumer.close()
    safe = safe_watermark(scenario.store, settings.topic, [0, 1])
    first_w, second_w = (check_watermark(hour_floor(safe) - h * HOUR_MS, safe) for h in (3, 1))

    def published(watermark, over=""):
        result = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic, max_invalid_share=0.2,
                           based_on=over)
        with wiring.audit_ledger(settings) as ledger:
            publish(result, stores.batch, ledger)
        return result

    first = published(first_w)
    assert reconcile_publish(settings, first, None).skipped == "nothing was published before this version"
    second = published(second_w, first.version)
    assert second.manifest["mode"] == "incremental" and second.manifest["changes"] == {"over": first.version}
    report = reconcile_publish(settings, second, (first.version, first_w))
    assert report.skipped is None and report.hours > 0 and report.differences == []
    saved = json.loads(scenario.store.read(f"{BATCH_ROOT}/version={second.version}/{REPORT_FILE}"))
    assert (saved["hours"], saved["differences"]) == (report.hours, [])

    # The speed layer counts one view more than the batch in one bucket of the compared hours.
    hour = int(redis_client.zrangebyscore(keys.bucket_sweep_schedule_key(settings.redis_prefix, 0, settings.topic),
                                          first_w, f"({second_w}")[0])
    video = next(e[1:].decode() for e in redis_client.lrange(
        keys.bucket_sweep_key(settings.redis_prefix, 0, settings.topic, hour), 0, -1) if e[:1] == b"b")
    bucket = keys.bucket_key(settings.redis_prefix, 0, video, hour)
    event_hour = int(next(iter(redis_client.hkeys(bucket))))
    redis_client.hincrby(bucket, event_hour, 1)
    drift = reconcile_publish(settings, second, (first.version, first_w))
    changes = sorted(VersionFiles(scenario.store, second.version).change_rows())
    batch_views = next(n for v, h, n in changes if (v, h) == (video, event_hour))
    assert drift.differences == [HourDifference(video, event_hour, batch_views, batch_views + 1)]

    # A full recompute over the same version records the same changes, as the difference of the
    # two versions' views rather than the new records' own.
    again = run_batch(spark, scenario.store, settings.rules, second_w, settings.topic, max_invalid_share=0.2,
                      based_on=first.version, full=True)
    assert again.manifest["mode"] == "full" and sorted(VersionFiles(scenario.store, again.version).change_rows()) == changes
    unrelated = run_batch(spark, scenario.store, settings.rules, second_w, settings.topic, max_invalid_share=0.2)
    assert reconcile_publish(settings, unrelated, (first.version, first_w)).skipped.startswith(
        "the version was not computed over")
