"""A creator key's rate limit is one budget for every API replica: two `viewcount serve` processes
on one Redis allow together what one allows, and the Lua bucket itself on the real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from adapters.redis.connection import AsyncRedisConnection, RedisConfig
from devtools.sandbox import free_ports, wait_for
from serving_layer.auth import key_digest
from serving_layer.redis_ratelimit import RedisRateLimiter

pytestmark = pytest.mark.integration

ADMIN = "shared-rate-limit-admin-token-32+ch"
KEY = "vck_shared_rate_limit_key"
RATE = 5       # per second; bursts of 10


def test_the_bucket_bursts_then_paces_on_redis_clock(stack, stack_settings):
    async def run() -> list[float]:
        redis = AsyncRedisConnection(RedisConfig(url=stack_settings.redis_url, prefix=f"rl{uuid.uuid4().hex[:6]}"))
        try:
            limiter = RedisRateLimiter(redis, rate_per_s=2, burst=3)
            waits = [await limiter.take("creator_1") for _ in range(4)]
            waits.append(await limiter.take("creator_2"))     # another key, another bucket
            return waits
        finally:
            await redis.close()

    waits = asyncio.run(run())
    assert waits[:3] == [0, 0, 0] and 0.3 < waits[3] <= 0.5 and waits[4] == 0


def test_two_replicas_share_one_budget(stack, stack_settings, tmp_path):
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({key_digest(KEY): "creator_1"}))
    settings = stack_settings.replace(admin_token=ADMIN, api_keys_file=str(keys), serve_rate_limit=RATE,
                                      redis_prefix=f"rl{uuid.uuid4().hex[:6]}", audit_store=(tmp_path / "audit").as_uri())
    ports = free_ports(2)
    replicas = [subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)],
                                 env={**os.environ, **settings.to_env()}, stderr=subprocess.DEVNULL) for port in ports]
    try:
        for port in ports:
            wait_for(lambda: _healthy(port), 60, interval_s=0.2, what=f"the API on {port}")
        statuses: dict[int, list[int]] = {port: [] for port in ports}
        started = time.monotonic()
        with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as client:
            for i in range(40):
                port = ports[i % 2]
                statuses[port].append(client.get(f"http://127.0.0.1:{port}/v1/creators/creator_1/views").status_code)
        elapsed = time.monotonic() - started
    finally:
        for replica in replicas:
            replica.terminate()
            replica.wait(30)
    allowed = sum(s.count(200) for s in statuses.values())
    assert {code for s in statuses.values() for code in s} == {200, 429}
    assert all(429 in s for s in statuses.values())          # each replica refused what the other had used
    assert 2 * RATE <= allowed <= 2 * RATE + RATE * elapsed + 1, (allowed, elapsed)
    print(f"two replicas, 40 requests in {elapsed:.2f} s: {allowed} allowed (one replica's budget: "
          f"{2 * RATE} + {RATE}/s)")


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
