"""Crashes and restarts never lose or double-count a view."""

from __future__ import annotations

import random
import signal
import time

import pytest
import redis

from app import wiring
from adapters.redis.connection import RedisConfig, RedisConnection
from speed_layer.redis_store import RedisCountStore
from app.background import Background
from devtools.sandbox import wait_for
from tests.conftest import run_through_rebalances

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def applied(scenario, store=None) -> int:
    """Records the speed layer applied, over every partition (``store``: a count store to reuse)."""
    offsets = (store or wiring.count_store(scenario.settings)).applied_offsets(scenario.settings.topic)
    return sum(o + 1 for o in offsets.values())


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_kill_9_and_an_immediate_restart_ten_times_is_still_exact(make_speed_scenario, client):
    """The member holding every partition dies while applying, over and over; each successor
    (the same static member) takes the partitions back at once and resumes from Redis."""
    scenario = make_speed_scenario(events=120_000, days=1, partitions=4, kafka_client=client,
                                   kafka_group_instance_id="speed-host")
    rng = random.Random(77)
    store = wiring.count_store(scenario.settings)
    kills = 0
    while kills < 10:
        before = applied(scenario, store)
        proc = scenario.process("--until-idle", "5")
        # Kill it while it is applying: once it has applied a random number of records past where
        # it resumed. Counted in records, not seconds, so ten kills fit the topic however fast the
        # layer is (at 60,000 records/s, half a second was a quarter of the topic).
        target = before + rng.randint(1, 4000)
        wait_for(lambda: applied(scenario, store) >= target or proc.poll() is not None, 90, interval_s=0.01,
                 what="progress")
        if proc.poll() is not None:
            break  # it finished the whole topic between two kills
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        kills += 1
    assert kills == 10, f"only {kills} kills landed before the topic was done"
    final = scenario.process("--until-idle", "5")  # at once: no wait for the dead member's session
    _, err = final.communicate(timeout=600)
    assert final.returncode == 0, err.decode()[-2000:]
    assert applied(scenario) == 120_000
    assert scenario.mismatches() == {}


def test_a_redis_restart_mid_run_is_exact(make_speed_scenario, stack):
    scenario = make_speed_scenario(events=30_000, days=0.5)
    counter, close = scenario.counter()
    runner = Background(counter.run, until_idle_s=6)
    try:
        wait_for(lambda: applied(scenario) > 2000, 60, what="progress")
        stack.down(("redis",), progress=lambda line: None)   # SIGTERM: Redis flushes its AOF
        stack.up(("redis",), progress=lambda line: None)
    finally:
        try:
            runner.join(300)
        finally:
            close()
    assert scenario.mismatches() == {}


# Both run inside Redis, so no step of the counter lands between reading and replacing the state.
SNAPSHOT_LUA = """
local out = {}
for _, key in ipairs(redis.call('KEYS', ARGV[1] .. ':*')) do
  out[#out + 1] = key
  out[#out + 1] = redis.call('DUMP', key)
  out[#out + 1] = math.max(0, redis.call('PTTL', key))
end
return out
"""
ROLL_BACK_LUA = """
for _, key in ipairs(redis.call('KEYS', ARGV[1] .. ':*')) do redis.call('DEL', key) end
for i = 2, #ARGV, 3 do redis.call('RESTORE', ARGV[i], ARGV[i + 2], ARGV[i + 1]) end
return 1
"""


@pytest.mark.parametrize("older", ["an earlier state", "nothing"])
def test_redis_coming_back_with_older_state_is_reapplied_exactly(make_speed_scenario, older):
    """A failover to a replica that lagged, or an AOF that lost its tail: Redis holds less than
    it had confirmed. The counter must rewind and apply the gap again, not skip it."""
    scenario = make_speed_scenario(events=20_000, days=0.5, produce=False)
    client = redis.Redis.from_url(scenario.settings.redis_url)
    prefix = scenario.settings.redis_prefix
    half = len(scenario.lines) // 2
    counter, close = scenario.counter()
    runner = Background(counter.run, until_idle_s=6)
    try:
        # In two halves, each applied whole before the next move: the snapshot holds exactly the
        # first, and Redis then loses the second, however fast the layer is.
        scenario.produce(scenario.lines[:half])
        wait_for(lambda: applied(scenario) == half, 60, what="the first half")
        snapshot = client.eval(SNAPSHOT_LUA, 0, prefix) if older == "an earlier state" else []
        scenario.produce(scenario.lines[half:])
        wait_for(lambda: applied(scenario) == len(scenario.lines), 60, what="the second half")
        client.eval(ROLL_BACK_LUA, 0, prefix, *snapshot)
    finally:
        try:
            runner.join(300)
        finally:
            close()
            client.close()
    assert counter.metrics.rewinds._value.get() >= 1
    assert applied(scenario) == 20_000
    assert scenario.mismatches() == {}


def test_two_processes_and_a_rebalance_in_the_middle_are_exact(make_speed_scenario):
    scenario = make_speed_scenario(events=60_000, days=0.5, partitions=4)
    first = scenario.process("--until-idle", "5", instance="host-1")
    wait_for(lambda: applied(scenario) > 3000, 60, what="the first process to start")
    second = scenario.process("--until-idle", "5", instance="host-2")
    for proc in (first, second):
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
    # Each exits only once Redis holds every partition of the topic at its end offset.
    assert applied(scenario) == 60_000
    assert scenario.mismatches() == {}


class SlowStore(RedisCountStore):
    """Every atomic step takes a second longer (a far-away Redis, a disk stalling under AOF):
    longer than a rebalance, so steps are in flight while partitions move."""

    steps = 0

    def apply(self, *args, **kwargs):
        time.sleep(1)
        self.steps += 1
        return super().apply(*args, **kwargs)


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_two_members_one_slow_through_twenty_rebalances_count_every_view_once(make_speed_scenario, client):
    scenario = make_speed_scenario(events=20_000, days=0.5, partitions=4, produce=False, kafka_client=client)
    slow_store = SlowStore(RedisConnection(RedisConfig(url=scenario.settings.redis_url,
                                                        prefix=scenario.settings.redis_prefix)),
                           scenario.settings.speed_state_buckets, partitions=scenario.settings.topic_partitions)
    fast, close_fast = scenario.counter(instance="member-fast")
    slow, close_slow = scenario.counter(store=slow_store, instance="member-slow")
    forced = run_through_rebalances(scenario.settings, scenario.group, [fast, slow], [close_fast, close_slow],
                                    scenario.lines, done=lambda: applied(scenario) == len(scenario.lines))
    assert forced == 20 and slow_store.steps > 0
    assert scenario.mismatches() == {}


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_a_broker_restart_mid_run_is_exact(make_speed_scenario, stack, client):
    scenario = make_speed_scenario(events=30_000, days=0.5, kafka_client=client)
    counter, close = scenario.counter()
    runner = Background(counter.run, until_idle_s=15)
    try:
        wait_for(lambda: applied(scenario) > 2000, 60, what="progress")
        stack.down(("kafka",), progress=lambda line: None)
        stack.up(("kafka",), progress=lambda line: None)
    finally:
        try:
            runner.join(300)
        finally:
            close()
    assert applied(scenario) == 30_000
    assert scenario.mismatches() == {}
