"""The dedup and cap state's layout is fixed by the first step: a store set to another number of
buckets or of partitions, state counted before the layout was recorded, or state of a release
without partition tags, is refused, with nothing applied."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from adapters.kafka.seam import Record
from speed_layer.counter import prepare
from speed_layer.exceptions import StateLayoutMismatch
from tests.conftest import redis_stores
from tests.viewcount.test_rules import SMALL
from viewcount import keys

pytestmark = pytest.mark.integration

VALUE = (b'{"event_id": "e1", "video_id": "vid_1", "creator_id": "c_1", "viewer_id": "u_1", '
         b'"event_time": "2026-11-21T10:15:00Z", "watch_ms": 40000}')
TS = 1_795_256_130_000


def step(stores, offset: int):
    return stores.counts.apply("views", 0, prepare([Record("views", 0, offset, TS, None, VALUE)]), SMALL)


def test_another_number_of_buckets_or_of_partitions_is_refused_and_applies_nothing(serving_redis):
    redis_client = serving_redis[1]
    prefix = f"t{uuid.uuid4().hex[:10]}"
    first = redis_stores(client=redis_client, prefix=prefix, state_buckets=64, partitions=4)
    first.counts.check_state_layout("views")                     # nothing written yet: any layout
    assert step(first, 0).last_offset == 0
    assert redis_client.get(keys.state_layout_key(prefix, 0)) == b"buckets=64 partitions=4"

    for other in (redis_stores(client=redis_client, prefix=prefix, state_buckets=128, partitions=4),
                  redis_stores(client=redis_client, prefix=prefix, state_buckets=64, partitions=8)):
        layout = f"buckets={other.counts.state_buckets} partitions={other.counts.partitions}"
        with pytest.raises(StateLayoutMismatch, match=f"written with buckets=64 partitions=4, and this layer's is "
                                                      f"{layout}"):
            other.counts.check_state_layout("views")
        with pytest.raises(StateLayoutMismatch):
            step(other, 1)
    assert redis_client.hget(keys.offsets_key(prefix, 0, "views"), "o") == b"0"     # nothing applied
    first.counts.check_state_layout("views")
    assert step(first, 1).last_offset == 1


def test_state_counted_before_the_layout_was_recorded_is_refused(serving_redis):
    redis_client = serving_redis[1]
    prefix = f"t{uuid.uuid4().hex[:10]}"
    redis_client.hset(keys.offsets_key(prefix, 0, "views"), mapping={"o": 7, "t": TS})    # an older layout's
    stores = redis_stores(client=redis_client, prefix=prefix)
    with pytest.raises(StateLayoutMismatch, match="by a version that recorded no layout"):
        stores.counts.check_state_layout("views")
    with pytest.raises(StateLayoutMismatch):
        step(stores, 8)
    assert redis_client.get(keys.state_layout_key(prefix, 0)) is None


def test_state_of_a_release_without_partition_tags_is_refused(redis_client):
    """Its keys (``vc:so:…``, ``vc:sd:…``) are not where this release looks: counting on would miss
    them and count duplicates, so the layer refuses and says how to move on."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    redis_client.set(keys.unpartitioned_layout_key(prefix), "buckets=4096")
    stores = redis_stores(client=redis_client, prefix=prefix)
    with pytest.raises(StateLayoutMismatch, match="written with buckets=4096, without partition tags.*new REDIS_PREFIX"):
        stores.counts.check_state_layout("views")


def test_the_number_of_buckets_is_a_power_of_two_up_to_two_bytes_of_digest(redis_client):
    for wrong in (0, 3, 65536 * 2):
        with pytest.raises(ValueError, match="power of two"):
            redis_stores(client=redis_client, prefix="unused", state_buckets=wrong)


def test_the_speed_command_refuses_to_start_on_state_of_another_layout(stack_settings, redis_client):
    settings = stack_settings.replace(redis_prefix=f"t{uuid.uuid4().hex[:10]}")
    step(redis_stores(client=redis_client, prefix=settings.redis_prefix, state_buckets=64,
                      partitions=settings.topic_partitions), 0)
    done = subprocess.run([sys.executable, "-m", "app", "speed", "--until-idle", "1"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **settings.to_env(), "VIEWCOUNT_SPEED_STATE_BUCKETS": "128",
                                            "VIEWCOUNT_SPEED_METRICS_PORT": "0"})
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"written with buckets=64 partitions={settings.topic_partitions}, and this layer's is buckets=128" in (
        done.stderr)
    assert "Traceback" not in done.stderr
