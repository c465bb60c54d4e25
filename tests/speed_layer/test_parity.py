"""The speed layer's atomic step on real Redis, single and Cluster, agrees with the pure rules, record for
record."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speed_layer.counter import prepare
from viewcount import keys
from viewcount.partitioner import video_partition
from adapters.kafka.seam import Record
from viewcount.rules import Outcome, RuleState, apply_rules, cap_released_at, dedup_released_at, tally
from tests.conftest import redis_stores
from viewcount.timeutil import hour_floor
from tests.viewcount.test_rules import PARTITIONS, SMALL, partition_of, streams

pytestmark = pytest.mark.integration


def run_through_redis(store, records, batch_sizes):
    """Apply records per partition in offset order, in poll-sized batches, one step each."""
    by_partition = {}
    for r in records:
        by_partition.setdefault(r.partition, []).append(r)
    totals = Counter()
    for partition, recs in by_partition.items():
        kafka = [Record("t", partition, r.offset, r.timestamp_ms, None, r.value) for r in recs]
        i = 0
        for size in itertools.cycle(batch_sizes):
            if i >= len(kafka):
                break
            result = store.apply("t", partition, prepare(kafka[i:i + size]), SMALL)
            totals.update({o: n for o, n in result.outcomes.items() if n})
            i += size
    return totals


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=streams(), batch_sizes=st.lists(st.integers(1, 7), min_size=1, max_size=4),
       replay=st.booleans(), buckets=st.sampled_from([1, 2, keys.DEFAULT_STATE_BUCKETS]))
def test_redis_step_equals_the_rules(serving_redis, records, batch_sizes, replay, buckets):
    _, redis_client = serving_redis
    # Offsets must be per partition (the log's), so renumber the generated stream.
    counters = Counter()
    renumbered = []
    for r in records:
        renumbered.append(type(r)(r.partition, counters[r.partition], r.timestamp_ms, r.value))
        counters[r.partition] += 1
    prefix = f"t{uuid.uuid4().hex[:10]}"
    stores = redis_stores(client=redis_client, prefix=prefix, state_buckets=buckets, partitions=PARTITIONS)

    totals = run_through_redis(stores.counts, renumbered, batch_sizes)
    if replay:  # a crash replays applied records: they must be skipped
        assert run_through_redis(stores.counts, renumbered, batch_sizes[::-1]) == Counter()

    state = RuleState()
    decisions = list(apply_rules(renumbered, SMALL, state))
    expected = tally(decisions)
    assert totals == Counter({Outcome(o): n for o, n in expected.outcomes.items()})
    videos = {d.event.video_id for d in decisions if d.event is not None}
    for video in videos:
        views = stores.views.video_views(video)
        assert views.speed_views == expected.videos.get(video, 0)
        assert views.hourly == {h: n for (v, h), n in expected.hourly.items() if v == video}
        if expected.videos.get(video):
            assert views.creator_id == expected.owners[video]
    # State lives exactly until the partition's ingest time releases it (each step's budget
    # outruns these short streams, so nothing released is left).
    for (video, event), entry in state.dedup.items():
        p = partition_of(video)
        live = dedup_released_at(entry.last_ingest_ms, SMALL) > state.ingest_ms[p]
        assert redis_client.hexists(*keys.dedup_entry(prefix, p, video, event, buckets)) == live
    for (video, viewer, hour) in state.caps:
        p = partition_of(video)
        live = cap_released_at(hour, SMALL) > state.ingest_ms[p]
        assert redis_client.hexists(*keys.cap_entry(prefix, p, video, viewer, hour, buckets)) == live
    # Keys stay behind under this example's prefix (the session's Redis is temporary): a SCAN
    # to delete them would walk every other test's keys too.


def test_what_the_step_writes_is_where_the_key_functions_say(serving_redis):
    _, redis_client = serving_redis
    prefix = f"t{uuid.uuid4().hex[:10]}"
    stores = redis_stores(client=redis_client, prefix=prefix, partitions=4)
    value = (b'{"event_id": "e1", "video_id": "vid_1", "creator_id": "c_1", "viewer_id": "u_1", '
             b'"event_time": "2026-11-21T10:15:00Z", "watch_ms": 40000}')
    ts = 1_795_256_130_000
    p = video_partition("vid_1", 4)
    result = stores.counts.apply("views", p, prepare([Record("views", p, 41, ts, None, value)]), SMALL)
    assert result.outcomes[Outcome.COUNTED] == 1 and result.last_offset == 41
    event_hour = hour_floor(1_795_256_100_000)
    assert redis_client.hgetall(keys.offsets_key(prefix, p, "views")) == {b"o": b"41", b"t": str(ts).encode()}
    buckets = keys.DEFAULT_STATE_BUCKETS
    assert redis_client.hget(*keys.dedup_entry(prefix, p, "vid_1", "e1", buckets))[8:] == str(ts).encode()
    assert redis_client.hget(*keys.cap_entry(prefix, p, "vid_1", "u_1", event_hour, buckets)) == b"1"
    assert redis_client.get(keys.state_layout_key(prefix, p)) == b"buckets=4096 partitions=4"
    assert redis_client.hgetall(keys.bucket_key(prefix, p, "vid_1", hour_floor(ts))) == {
        str(event_hour).encode(): b"1"}
    assert redis_client.zrange(keys.bucket_hours_key(prefix, p, "vid_1"), 0, -1) == [str(hour_floor(ts)).encode()]
    assert redis_client.get(keys.owner_key(prefix, p, "vid_1")) == b"c_1"
    assert redis_client.zrange(keys.creator_videos_key(prefix, p, "c_1"), 0, -1, withscores=True) == [
        (b"vid_1", ts)]
    # Listed for expiry on the data's clock: the dedup key once the ingest time passes ts + the
    # window, the cap key once no record of its event hour can pass rule 2, the bucket and the
    # claim under their ingest hour. None has a TTL.
    dedup_hour, cap_hour = dedup_released_at(ts, SMALL), cap_released_at(event_hour, SMALL)
    assert redis_client.zrange(keys.state_expiry_schedule_key(prefix, p, "views"), 0, -1, withscores=True) == sorted(
        [(str(h).encode(), h) for h in {dedup_hour, cap_hour}], key=lambda e: e[1])
    assert redis_client.lrange(keys.state_expiry_key(prefix, p, "views", dedup_hour), 0, -1)[0] == (
        b"d" + keys.dedup_digest("vid_1", "e1"))
    assert redis_client.lrange(keys.state_expiry_key(prefix, p, "views", cap_hour), 0, -1)[-1] == (
        b"c" + keys.cap_digest("vid_1", "u_1", event_hour))
    assert redis_client.lrange(keys.bucket_sweep_key(prefix, p, "views", hour_floor(ts)), 0, -1) == [
        b"bvid_1", b"ovid_1 c_1"]
    assert redis_client.zrange(keys.bucket_sweep_schedule_key(prefix, p, "views"), 0, -1) == [
        str(hour_floor(ts)).encode()]
    for key in (keys.dedup_entry(prefix, p, "vid_1", "e1", buckets)[0],
                keys.cap_entry(prefix, p, "vid_1", "u_1", event_hour, buckets)[0],
                keys.bucket_key(prefix, p, "vid_1", hour_floor(ts)), keys.owner_key(prefix, p, "vid_1"),
                keys.creator_videos_key(prefix, p, "c_1")):
        assert redis_client.ttl(key) == -1, key
