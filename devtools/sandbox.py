"""A private local stack for checks and benchmarks: settings on free loopback ports under a
state directory of its own, and polling with a deadline instead of sleeping."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

from viewcount.settings import Settings


def free_ports(count: int) -> list[int]:
    """Ports free right now; consecutive blocks are not needed, so ask the kernel."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port_block(size: int) -> int:
    """A base port such that base..base+size-1 are free (the DataNode uses a block), chosen below
    the kernel's ephemeral range: a block in it could be taken by any outgoing connection between
    now and the moment its service starts, which may be much later in a test session."""
    first_ephemeral = _ephemeral_range()[0]
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(10000, max(10001, first_ephemeral - size))
        if all(_free(p) for p in range(base, base + size)):
            return base
    raise RuntimeError("no free port block")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999     # Linux's default


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def settings_for(state_dir: Path, **overrides) -> Settings:
    kafka, controller, redis_port, nn_rpc, nn_http, sasl, redis_tls, kdc = free_ports(8)
    env = {
        "VIEWCOUNT_STATE_DIR": str(state_dir),
        "VIEWCOUNT_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "VIEWCOUNT_KAFKA_CONTROLLER_PORT": str(controller),
        "VIEWCOUNT_KAFKA_SASL_PORT": str(sasl),
        "VIEWCOUNT_REDIS_TLS_PORT": str(redis_tls),
        "VIEWCOUNT_KDC_PORT": str(kdc),
        "VIEWCOUNT_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "VIEWCOUNT_HDFS_NAMENODE": f"hdfs://127.0.0.1:{nn_rpc}",
        "VIEWCOUNT_WEBHDFS_URL": f"http://127.0.0.1:{nn_http}",
        "VIEWCOUNT_HDFS_DATANODE_PORT_BASE": str(free_port_block(4)),
        "VIEWCOUNT_SPARK_PORT_BASE": str(free_port_block(4)),
        "VIEWCOUNT_REDIS_CLUSTER_PORT_BASE": str(free_port_block(12)),
        "VIEWCOUNT_KAFKA_CLUSTER_PORT_BASE": str(free_port_block(6)),
        "VIEWCOUNT_RAW_STORE": (state_dir / "raw").as_uri(),
        "VIEWCOUNT_AUDIT_STORE": (state_dir / "audit").as_uri(),
        "VIEWCOUNT_AUDIT_TOPIC": f"viewcount.audit.{state_dir.name}",
    }
    env.update({f"VIEWCOUNT_{k.upper()}": str(v) for k, v in overrides.items()})
    return Settings.from_env(env)


def wait_for(check: Callable[[], object], timeout_s: float = 30.0, interval_s: float = 0.1,
             what: str = "condition"):
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)
