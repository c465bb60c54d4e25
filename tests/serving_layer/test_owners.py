"""Who the API says owns a video, and which videos a creator reads (CONTRACT §9), on the real
Redis, single and Cluster: for any stream, catalog and batch watermark, equal to a reference read
from §9 literally."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.redis.connection import RedisConfig, RedisConnection
from serving_layer import redis_reader
from serving_layer.owners import FixedCatalog, Owners
from serving_layer.redis_reader import RedisViewReader
from tests.conftest import redis_stores
from tests.speed_layer.test_parity import run_through_redis
from tests.viewcount.test_ownership import H0, catalogs, creators, reference_owner
from tests.viewcount.test_rules import PARTITIONS, SMALL, streams
from viewcount.ownership import Catalog, OwnershipMode
from viewcount.rules import Outcome, apply_rules, tally
from viewcount.timeutil import HOUR_MS, hour_floor

pytestmark = pytest.mark.integration


def renumbered(records):
    """Offsets per partition, as the log numbers them."""
    counters, out = Counter(), []
    for r in records:
        out.append(type(r)(r.partition, counters[r.partition], r.timestamp_ms, r.value))
        counters[r.partition] += 1
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=streams(creators=creators), assignments=catalogs(), mode=st.sampled_from(list(OwnershipMode)),
       now_hours=st.integers(-2, 9), batch_hours=st.one_of(st.none(), st.integers(0, 6)))
def test_owners_and_creator_listings_equal_the_reference(serving_redis, monkeypatch, records, assignments, mode,
                                                         now_hours, batch_hours):
    redis_client = serving_redis[1]
    monkeypatch.setattr(redis_reader, "PAGE", 2)          # a creator's read spans several pages
    records = renumbered(records)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    stores = redis_stores(client=redis_client, prefix=prefix, partitions=PARTITIONS)
    run_through_redis(stores.counts, records, [3])
    decisions = list(apply_rules(records, SMALL))
    counted = [d for d in decisions if d.outcome is Outcome.COUNTED]
    if batch_hours is not None:           # a batch version holds what was ingested before W
        watermark = hour_floor(records[0].timestamp_ms) + batch_hours * HOUR_MS if records else H0
        below = tally(d for d in decisions if d.ingest_ms < watermark)
        hourly = {}
        for (video, hour), n in below.hourly.items():
            hourly.setdefault(video, {})[hour] = n
        stores.batch.publish_batch("v1", watermark, {v: (n, below.owners[v]) for v, n in below.videos.items()},
                                   hourly, 600)
    now = H0 + now_hours * HOUR_MS
    owners = Owners(FixedCatalog(Catalog(assignments)), mode, clock=lambda: now + 1234)
    reader = RedisViewReader(RedisConnection(RedisConfig(url="redis://unused", prefix=prefix), client=redis_client),
                             owners, PARTITIONS)

    expected = tally(decisions)
    listing: dict[str, dict[str, int]] = {}
    for video in ("v1", "v2", "v3"):
        owner = reference_owner(video, now, assignments, counted, mode)
        got = reader.video_views(video)
        assert (got.creator_id, got.views) == (owner, expected.videos.get(video, 0)), video
        if owner is not None and (expected.videos.get(video) or video in {a.video_id for a in assignments}):
            listing.setdefault(owner, {})[video] = expected.videos.get(video, 0)
    for creator in ("ca", "cb", "cc"):
        assert reader.creator_views(creator).videos == listing.get(creator, {}), creator
