"""A Redis Cluster on loopback: 6 nodes (3 masters, each with a replica), as `stack up --cluster` starts it.

Each node is a service of its own (``redis-node-1`` … ``redis-node-6``), with the persistence a
deployment uses (AOF, ``appendfsync everysec``, ``noeviction``); once all six run,
:func:`form_cluster` joins them with ``redis-cli --cluster create`` (once: a formed cluster is
left as it is).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time

from devtools.stack.exceptions import MissingTool, StackError
from devtools.stack.services import RedisServer
from viewcount.settings import Settings

logger = logging.getLogger(__name__)

NODES = 6
REPLICAS = 1
CLUSTER_NODES = tuple(f"redis-node-{i}" for i in range(1, NODES + 1))
SLOTS = 16384


def node_ports(settings: Settings) -> list[int]:
    """The nodes' client ports (their cluster bus ports are the ``NODES`` after these)."""
    return [settings.redis_cluster_port_base + i for i in range(NODES)]


def cluster_address(settings: Settings) -> str:
    """The ``REDIS_URL`` of the local cluster: any node's address does; the client finds the rest."""
    return f"redis+cluster://127.0.0.1:{settings.redis_cluster_port_base}/0"


class RedisClusterNode(RedisServer):
    def __init__(self, settings: Settings, index: int) -> None:
        self.name = f"redis-node-{index}"
        super().__init__(settings)
        self.host = "127.0.0.1"
        self.port = node_ports(settings)[index - 1]
        self.bus_port = self.port + NODES
        if self.bus_port + NODES > 65535:
            raise StackError(f"REDIS_CLUSTER_PORT_BASE {settings.redis_cluster_port_base} leaves no room for the "
                             f"cluster's {2 * NODES} ports")

    def ports(self) -> list[tuple[str, int]]:
        return [(self.host, self.port), (self.host, self.bus_port)]

    def argv(self) -> list[str]:
        return self.server_argv() + [
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", str(self.bus_port),
            # a failed master's replica takes over within seconds
            "--cluster-node-timeout", "2000", "--maxmemory-policy", "noeviction",
        ]


def node_state(port: int) -> tuple[dict[str, str], dict]:
    """(``CLUSTER INFO``, ``INFO replication``) of the node at ``port``."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    try:
        return {k: str(v) for k, v in client.cluster("info").items()}, client.info("replication")
    finally:
        client.close()


def formed(ports: list[int]) -> bool:
    """Every node sees a healthy cluster of all of them, with every slot served, every master has
    its replica, and every replica has synchronised with its master: one that never has could not
    take over (its data would be too old to be promoted)."""
    for port in ports:
        info, replication = node_state(port)
        if (info.get("cluster_state"), info.get("cluster_known_nodes"), info.get("cluster_slots_ok")) != (
                "ok", str(len(ports)), str(SLOTS)):
            return False
        if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
            return False
        if replication.get("role") == "master" and replication.get("connected_slaves", 0) < REPLICAS:
            return False
    return True


def form_cluster(settings: Settings, progress=print, timeout_s: float = 60.0) -> None:
    """Join the running nodes into one cluster, 3 masters and a replica each; nothing if formed."""
    ports = node_ports(settings)
    if formed(ports):
        progress(f"{'redis-cluster':12} already formed at {cluster_address(settings)}")
        return
    cli = shutil.which("redis-cli")
    if cli is None:
        raise MissingTool("redis-cli not found: apt-get install redis-tools")
    started = time.monotonic()
    done = subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                           "--cluster-replicas", str(REPLICAS), "--cluster-yes"],
                          capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise StackError(f"redis-cli --cluster create failed (a node holding keys or another cluster's "
                         f"configuration cannot join: `stack down` and remove its data folder):\n"
                         f"{(done.stdout + done.stderr)[-1500:]}")
    deadline = time.monotonic() + timeout_s
    while not formed(ports):
        if time.monotonic() > deadline:
            raise StackError(f"the Redis Cluster on ports {ports[0]}-{ports[-1]} did not settle within "
                             f"{timeout_s:.0f}s")
        time.sleep(0.2)
    progress(f"{'redis-cluster':12} formed at {cluster_address(settings)} in {time.monotonic() - started:.1f}s")
