"""A Redis that may evict keys is refused at start by the speed layer and the API: eviction would
drop dedup and cap keys or published views, and the counts would go wrong without a word."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devtools.sandbox import free_ports

pytestmark = pytest.mark.integration


@pytest.fixture
def evicting_redis(stack, redis_client):
    redis_client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        yield
    finally:
        redis_client.config_set("maxmemory-policy", "noeviction")


@pytest.mark.parametrize("command, who", [(["speed", "--until-idle", "1"], "the speed layer"),
                                          (["serve", "--port", str(free_ports(1)[0])], "the API")])
def test_an_evicting_redis_is_refused_at_start(evicting_redis, stack_settings, make_topic, command, who):
    settings = stack_settings.replace(topic=make_topic(), redis_prefix="unsafe", speed_metrics_port=0)
    done = subprocess.run([sys.executable, "-m", "app", *command], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **settings.to_env()})
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "maxmemory-policy is allkeys-lru" in last and who in last and "noeviction" in last
