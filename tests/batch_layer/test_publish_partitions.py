"""A publish flips one pointer per partition, partition 0's first: whatever point a publisher
stops at, each answer reads one version, a creator's read pins partition 0's, and a slow
publisher never rolls back a later one. On the real Redis, single and Cluster."""

from __future__ import annotations

import uuid

import pytest

from adapters.redis.exceptions import ServingStoreError
from tests.conftest import redis_stores
from viewcount import keys
from viewcount.partitioner import video_partition

pytestmark = pytest.mark.integration

PARTITIONS = 4
W = 1_795_000_000_000 // 3_600_000 * 3_600_000
VIDEOS = [f"vid_{i}" for i in range(24)]


def load(stores, version: str, views: int, watermark: int = W) -> None:
    stores.batch.publish_batch(version, watermark, {v: (views, "creator_a") for v in VIDEOS},
                               {v: {watermark - 3_600_000: views} for v in VIDEOS}, grace_s=600)


def pointers(redis_client, prefix: str) -> list[str]:
    return [(redis_client.hget(keys.batch_pointer_key(prefix, p), "version") or b"").decode()
            for p in range(PARTITIONS)]


def version_keys(redis_client, stores, version: str) -> list[bytes]:
    """Every key of ``version``, on every node of a cluster."""
    return list(redis_client.scan_iter(match=keys.batch_version_pattern(stores.batch.prefix, version), count=1000))


@pytest.fixture
def redis_client(serving_redis):
    return serving_redis[1]


@pytest.fixture
def stores(redis_client):
    return redis_stores(client=redis_client, prefix=f"pp{uuid.uuid4().hex[:8]}", partitions=PARTITIONS)


def failing_at(stores, partition: int):
    """The flip script, failing on ``partition``'s pointer as a publisher that died there would."""
    flip = stores.batch._flip

    def flaky(keys=(), args=()):
        if keys[0].endswith(f"{{p{partition}}}:bp".encode()):
            raise ServingStoreError("the publisher stopped here")
        return flip(keys=keys, args=args)
    return flaky


def test_a_publish_that_stops_midway_leaves_answers_of_one_version_and_the_next_finishes_it(stores, redis_client,
                                                                                           monkeypatch):
    assert {video_partition(v, PARTITIONS) for v in VIDEOS} == set(range(PARTITIONS))
    load(stores, "a", 10)
    assert pointers(redis_client, stores.batch.prefix) == ["a"] * PARTITIONS

    monkeypatch.setattr(stores.batch, "_flip", failing_at(stores, 2))
    with pytest.raises(ServingStoreError):
        load(stores, "b", 20)
    monkeypatch.undo()
    assert pointers(redis_client, stores.batch.prefix) == ["b", "b", "a", "a"]
    for video in VIDEOS:
        got = stores.views.video_views(video)
        expected = "b" if video_partition(video, PARTITIONS) < 2 else "a"
        assert (got.batch_version, got.batch_views, sum(got.hourly.values())) == (
            expected, 20 if expected == "b" else 10, got.batch_views), video
    creator = stores.views.creator_views("creator_a")
    assert creator.batch_version == "b" and creator.videos == {v: 20 for v in VIDEOS}    # pinned to partition 0's

    load(stores, "c", 30, W + 3_600_000)
    assert pointers(redis_client, stores.batch.prefix) == ["c"] * PARTITIONS
    assert {stores.views.video_views(v).batch_views for v in VIDEOS} == {30}
    for old in ("a", "b"):      # both versions some pointer named before go, after the grace
        loaded = version_keys(redis_client, stores, old)
        assert loaded and all(0 < redis_client.ttl(k) <= 600 for k in loaded), old
    assert all(redis_client.ttl(k) == -1 for k in version_keys(redis_client, stores, "c"))


def test_a_slow_publisher_never_rolls_a_partition_back(stores, redis_client):
    load(stores, "a", 10)
    seq_a = int(redis_client.hget(keys.batch_pointer_key(stores.batch.prefix, 3), "seq"))
    load(stores, "b", 20, W + 3_600_000)
    # a's publisher, late, reaches partition 3 only now
    flipped, current = stores.batch._flip(keys=[keys.batch_pointer_key(stores.batch.prefix, 3)],
                                          args=["follow", "a", W, seq_a])
    assert (flipped, current) == (0, b"b")
    assert pointers(redis_client, stores.batch.prefix) == ["b"] * PARTITIONS
