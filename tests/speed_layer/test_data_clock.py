"""Exact state lives on the data's clock: a speed layer stopped for longer than the dedup window
still catches the duplicates waiting in the log; state is dropped only once the partition's ingest
time has passed it, and buckets only once the published watermark (less the retention) has."""

from __future__ import annotations

import json
import time

import pytest

from app import wiring
from devtools.generate import INGEST_TIME_FIELD, compute_truth
from ingestion.produce import ingest_time_of
from viewcount import keys
from viewcount.rules import Outcome, SourceRecord, apply_rules, cap_released_at, dedup_released_at, tally
from viewcount.timeutil import HOUR_MS, format_ms, hour_floor, now_ms

pytestmark = pytest.mark.integration

SECOND = 1000
# A dedup window of 25 s, so that the wall-clock wait past it (the fault) is short; the story's
# times below are written in seconds of a 50 s window and halved by at().
WINDOWS = {"max_event_age": 22_500, "max_clock_skew": 2_500, "speed_bucket_retention": HOUR_MS}
TIME_SCALE = 0.5


def view(event_id: str, video: str, viewer: str, event_ms: int, ingest_ms: int, watch_ms: int = 40_000) -> bytes:
    return json.dumps({"event_id": event_id, "video_id": video, "creator_id": f"c-{video}", "viewer_id": viewer,
                       "event_time": format_ms(event_ms), "watch_ms": watch_ms,
                       INGEST_TIME_FIELD: format_ms(ingest_ms)}).encode()


def test_a_layer_stopped_past_the_window_counts_exactly_and_state_follows_the_data(make_speed_scenario, redis_client):
    scenario = make_speed_scenario(events=0, partitions=1, **WINDOWS)
    settings, rules, prefix, topic = scenario.settings, scenario.settings.rules, scenario.settings.redis_prefix, \
        scenario.settings.topic
    base = hour_floor(now_ms()) - 6 * HOUR_MS     # a backfill: the data's clock runs hours behind the wall's

    def at(seconds: float) -> int:
        return base + int(seconds * SECOND * TIME_SCALE)

    sent: list[bytes] = []

    def send(lines: list[bytes]) -> None:
        sent.extend(lines)
        scenario.produce(lines)
        scenario.truth = compute_truth(sent, rules)

    def applied() -> dict[Outcome, int]:
        counter = scenario.run(until_idle_s=1.0)
        assert scenario.mismatches() == {}
        return {o: n for o, n in counter.metrics.records_applied().items() if n}

    first_a = view("a", "v1", "x", at(5), at(10))
    send([first_a, view("b", "v2", "x", at(15), at(15))]
         + [view(f"y{i}", "v1", "y", at(6 + i), at(12 + i)) for i in range(3)])
    assert applied() == {Outcome.COUNTED: 5}

    # Stopped: the re-sends and the rest of y's views arrive within the window of the first
    # copies, and wait in the log while the wall clock runs past the window. The wait is the fault.
    send([view("a", "v1", "x", at(5), at(40)), view("b", "v2", "x", at(15), at(41), watch_ms=50_000)]
         + [view(f"y{i}", "v1", "y", at(6 + i), at(45 + i)) for i in range(3, 6)])
    time.sleep((rules.dedup_window_ms + 5 * SECOND) / 1000)
    assert applied() == {Outcome.DUPLICATE: 1, Outcome.CONFLICTING: 1, Outcome.COUNTED: 2, Outcome.CAPPED: 1}
    buckets = settings.speed_state_buckets
    for key in (keys.dedup_entry(prefix, 0, "v1", "a", buckets)[0], keys.cap_entry(prefix, 0, "v1", "y", base, buckets)[0],
                keys.bucket_key(prefix, 0, "v1", base), keys.owner_key(prefix, 0, "v1")):
        assert redis_client.ttl(key) == -1, key        # nothing of it expires by Redis's clock

    # The data's clock moves past the release of every entry above: they are dropped, and an
    # event id used again after its window counts, in Redis as by the rules.
    later = base + 5 * HOUR_MS // 2
    assert dedup_released_at(at(41), rules) <= later and cap_released_at(base, rules) <= later
    send([view("a", "v1", "x", later - 10 * SECOND, later), view("y9", "v1", "y", later - 5 * SECOND, later + 1)])
    assert applied() == {Outcome.COUNTED: 2}
    assert not redis_client.hexists(*keys.dedup_entry(prefix, 0, "v2", "b", buckets))
    assert not redis_client.hexists(*keys.cap_entry(prefix, 0, "v1", "y", base, buckets))
    assert redis_client.hget(*keys.dedup_entry(prefix, 0, "v1", "a", buckets))[8:] == str(later).encode()
    assert all(score > later + 1 for _, score in redis_client.zrange(
        keys.state_expiry_schedule_key(prefix, 0, topic), 0, -1, withscores=True))
    # The buckets stay, however late the batch: none is published yet.
    assert redis_client.exists(keys.bucket_key(prefix, 0, "v1", base), keys.bucket_key(prefix, 0, "v2", base)) == 2

    # A publish with W two hours on (the rules' counts of what was ingested before W, as the
    # batch would publish them): buckets and claims of ingest hours before W less the retention
    # (1 h) go with the next step, and every answer stays exact.
    watermark = base + 2 * HOUR_MS
    batch = tally(apply_rules([SourceRecord(0, i, ingest_time_of(line, INGEST_TIME_FIELD), line)
                               for i, line in enumerate(sent)
                               if ingest_time_of(line, INGEST_TIME_FIELD) < watermark], rules))
    hourly = {video: {} for video in batch.videos}
    for (video, hour), n in batch.hourly.items():
        hourly[video][hour] = n
    wiring.batch_views(settings).publish_batch(
        "clock-test", watermark, {v: (n, batch.owners[v]) for v, n in batch.videos.items()}, hourly, grace_s=60)
    send([view("z", "v3", "x", base + int(2.6 * HOUR_MS), base + int(2.6 * HOUR_MS))])
    assert applied() == {Outcome.COUNTED: 1}
    assert redis_client.exists(keys.bucket_key(prefix, 0, "v1", base), keys.bucket_key(prefix, 0, "v2", base),
                               keys.owner_key(prefix, 0, "v1"), keys.owner_key(prefix, 0, "v2")) == 0
    assert redis_client.zrange(keys.bucket_hours_key(prefix, 0, "v1"), 0, -1) == [str(watermark).encode()]
    assert redis_client.hgetall(keys.bucket_key(prefix, 0, "v1", watermark)) == {str(watermark).encode(): b"2"}
    assert redis_client.zrange(keys.creator_videos_key(prefix, 0, "c-v1"), 0, -1) == []
    assert redis_client.zrange(keys.bucket_sweep_schedule_key(prefix, 0, topic), 0, -1) == [str(watermark).encode()]
