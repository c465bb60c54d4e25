"""A Redis Cluster master dies while the speed layer counts: its replica takes the slots over, and
the counts still equal the rules applied to everything produced. A step the master acknowledged
but had not yet sent to its replica is lost with its offset (they are one atomic step), so the
layer finds Redis holding less than it confirmed, rewinds and applies it again: never twice."""

from __future__ import annotations

import signal
import time

import pytest
import redis
from redis.cluster import ClusterNode

from app import wiring
from app.background import Background
from devtools.sandbox import wait_for
from devtools.stack.redis_cluster import CLUSTER_NODES, formed, node_ports
from viewcount import keys

pytestmark = pytest.mark.integration


def master_of(settings, partition: int) -> str:
    """The stack's name of the node that is master for ``partition``'s hash slot now."""
    ports = node_ports(settings)
    client = redis.RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports])   # any live one
    try:
        node = client.get_node_from_key(keys.partition_tag(settings.redis_prefix, partition))
        return CLUSTER_NODES[ports.index(int(node.port))]
    finally:
        client.close()


def applied(store, settings) -> int:
    return sum(o + 1 for o in store.applied_offsets(settings.topic).values())


def test_a_master_killed_mid_run_fails_over_and_the_counts_stay_exact(make_speed_scenario, redis_cluster, stack):
    scenario = make_speed_scenario(events=20_000, days=0.5, partitions=4, produce=False,
                                   redis_url=redis_cluster.redis_url)
    settings = scenario.settings
    store = wiring.count_store(settings)
    half = len(scenario.lines) // 2
    victim = master_of(settings, 0)
    counter, close = scenario.counter()
    runner = Background(counter.run, until_idle_s=8)
    try:
        scenario.produce(scenario.lines[:half])
        wait_for(lambda: applied(store, settings) > half // 2, 60, what="progress before the kill")
        stack.process(victim).stop(sig=signal.SIGKILL)      # mid-run: steps in flight on its slots
        killed = time.monotonic()
        scenario.produce(scenario.lines[half:])
        wait_for(lambda: master_of(settings, 0) != victim, 60, what=f"a replica to take over {victim}'s slots")
        promoted = time.monotonic()
        wait_for(lambda: applied(store, settings) == len(scenario.lines), 120, what="every record applied")
        caught_up = time.monotonic()
    finally:
        try:
            runner.join(300)
        finally:
            close()
            stack.up((victim,), progress=lambda line: None)    # back, as the new master's replica
    wait_for(lambda: formed(node_ports(settings)), 60, what="the cluster whole again")
    assert applied(store, settings) == len(scenario.lines)
    assert scenario.mismatches() == {}
    rewinds = counter.metrics.registry.get_sample_value("viewcount_speed_rewinds_total")
    print(f"Redis failover: {victim} killed; its replica seen as master by {promoted - killed:.1f} s after the kill, "
          f"every record applied by {caught_up - killed:.1f} s; {rewinds:.0f} rewinds")
