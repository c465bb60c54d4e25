"""Session fixtures: one real local stack per test session, on free loopback ports.

Tests isolate themselves by topic name and key prefix, never by restarting services.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from viewcount.settings import Settings
from viewcount.stack.manager import CORE, HDFS, Stack

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


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
    """A base port such that base..base+size-1 are free (the DataNode uses a block)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000)
        if all(_free(p) for p in range(base, base + size)):
            return base
    raise RuntimeError("no free port block")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def settings_for(state_dir: Path, **overrides) -> Settings:
    kafka, controller, redis_port, nn_rpc, nn_http = free_ports(5)
    env = {
        "VIEWCOUNT_STATE_DIR": str(state_dir),
        "VIEWCOUNT_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "VIEWCOUNT_KAFKA_CONTROLLER_PORT": str(controller),
        "VIEWCOUNT_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "VIEWCOUNT_HDFS_NAMENODE": f"hdfs://127.0.0.1:{nn_rpc}",
        "VIEWCOUNT_WEBHDFS_URL": f"http://127.0.0.1:{nn_http}",
        "VIEWCOUNT_HDFS_DATANODE_PORT_BASE": str(free_port_block(4)),
        "VIEWCOUNT_RAW_STORE": (state_dir / "raw").as_uri(),
        "VIEWCOUNT_AUDIT_STORE": (state_dir / "audit").as_uri(),
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
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


class Background:
    """Run ``target`` on a thread; ``join`` re-raises what it raised, so a worker that dies is a
    test error with its traceback, not a silent short count."""

    def __init__(self, target: Callable[..., object], **kwargs) -> None:
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(target, kwargs), daemon=True)
        self._thread.start()

    def _run(self, target, kwargs) -> None:
        try:
            target(**kwargs)
        except BaseException as e:  # handed to the test thread by join()
            self.error = e

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"still running after {timeout_s:.0f}s")
        if self.error is not None:
            raise self.error


def force_rebalances(settings: Settings, group: str, cycles: int,
                     before_each: Callable[[int], object] = lambda i: None) -> int:
    """Join ``group`` with a throwaway dynamic member and leave again, ``cycles`` times: each join
    and each leave is a rebalance of the group. Returns how many were forced."""
    from viewcount import wiring

    for i in range(cycles):
        before_each(i)
        assigned: list[int] = []
        member = wiring.consumer(settings.replace(kafka_group_instance_id=""), group_id=group,
                                 client_id="rebalancer")
        try:
            member.subscribe(settings.topic, on_assign=assigned.extend)
            wait_for(lambda: member.poll(0.2) == {} and assigned, 120, interval_s=0,
                     what=f"the extra member's assignment in rebalance {2 * i + 1}")
        finally:
            member.close()  # a dynamic member leaves the group at once
    return 2 * cycles


def produce_traffic(settings: Settings, lines: list[bytes]) -> None:
    """Send generated lines to the settings' topic, each stamped with its own ingest time."""
    from viewcount import wiring
    from viewcount.generate import INGEST_TIME_FIELD
    from viewcount.produce import produce_lines

    producer = wiring.producer(settings)
    try:
        report = produce_lines(lines, producer, settings.topic, INGEST_TIME_FIELD)
    finally:
        producer.close()
    assert report.sent == len(lines) and not report.failed


def run_through_rebalances(settings: Settings, group: str, members: list, closes: list[Callable[[], object]],
                           lines: list[bytes], done: Callable[[], bool], cycles: int = 10) -> int:
    """Run the layer ``members`` (``run``/``stop``) of ``group`` on threads while ``lines`` arrive
    in ``cycles`` slices, one before each forced join and leave; wait for ``done``, then stop
    them. Returns how many rebalances were forced."""
    runners = [Background(member.run) for member in members]
    size = -(-len(lines) // cycles)
    slices = [lines[i:i + size] for i in range(0, len(lines), size)]
    try:
        forced = force_rebalances(settings, group, cycles, before_each=lambda i: produce_traffic(settings, slices[i]))
        wait_for(done, 300, interval_s=0.5, what="every record processed")
    finally:
        for member in members:
            member.stop()
        try:
            for runner in runners:
                runner.join(120)
        finally:
            for close in closes:
                close()
    return forced


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory) -> Settings:
    return settings_for(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def stack(stack_settings) -> Iterator[Stack]:
    """Kafka and Redis, started once for the session."""
    running = Stack(stack_settings)
    running.up(CORE, progress=lambda line: None)
    yield running
    running.down(progress=lambda line: None)


@pytest.fixture(scope="session")
def redis_client(stack, stack_settings):
    """A plain client of the session's Redis, for tests that inspect keys byte for byte."""
    import redis

    client = redis.Redis.from_url(stack_settings.redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def hdfs(stack) -> Stack:
    """The NameNode and DataNode, started once, the first time a test asks for them."""
    stack.up(HDFS, progress=lambda line: None)
    return stack


_topic_numbers = itertools.count()


@pytest.fixture
def make_topic(stack, stack_settings) -> Callable[..., str]:
    """Create a fresh topic for one test: ``make_topic(partitions=3)`` → its name."""
    from viewcount import wiring
    from viewcount.kafka.seam import TopicSpec

    admin = wiring.topic_admin(stack_settings)

    def make(partitions: int = 3, prefix: str = "t") -> str:
        name = f"{prefix}-{os.getpid()}-{next(_topic_numbers)}-{uuid.uuid4().hex[:6]}"
        admin.ensure_topics([TopicSpec(name, partitions)])
        return name

    yield make
    admin.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test run (its JVM takes seconds to start)."""
    from batch_layer.job import spark_session

    session = spark_session("local[2]", "viewcount-tests", shuffle_partitions=4)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
