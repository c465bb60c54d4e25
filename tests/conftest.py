"""Session fixtures: one real local stack per test session, on free loopback ports.

Tests isolate themselves by topic name and key prefix, never by restarting services.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from viewcount.settings import Settings
from app.background import Background
from devtools.sandbox import free_ports, settings_for, wait_for
from devtools.stack.manager import CORE, HDFS, SPARK, Stack

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@dataclass(frozen=True)
class RedisStores:
    """The three stores on one Redis connection, as the layers see them: the speed layer's
    counts, the batch layer's published views and the serving layer's merged read."""

    counts: object
    batch: object
    views: object


def redis_stores(settings: Settings | None = None, client=None, prefix: str | None = None,
                 state_buckets: int | None = None, partitions: int | None = None) -> RedisStores:
    """On ``settings``' Redis, or on ``client`` under ``prefix``, laid out for ``partitions``
    (default: ``settings``', else 4)."""
    from adapters.redis.connection import RedisConfig, RedisConnection
    from batch_layer.redis_views import RedisBatchViews
    from serving_layer.owners import FixedCatalog, Owners
    from serving_layer.redis_reader import RedisViewReader
    from viewcount.ownership import OwnershipMode
    from speed_layer.redis_store import RedisCountStore
    from viewcount import keys

    config = (RedisConfig(url=settings.redis_url, prefix=prefix or settings.redis_prefix) if settings is not None
              else RedisConfig(url="redis://unused", prefix=prefix))
    connection = RedisConnection(config, client=client)
    owners = Owners(FixedCatalog(), OwnershipMode.FIRST_CLAIM)
    if state_buckets is None:
        state_buckets = settings.speed_state_buckets if settings is not None else keys.DEFAULT_STATE_BUCKETS
    if partitions is None:
        partitions = settings.topic_partitions if settings is not None else 4
    return RedisStores(RedisCountStore(connection, state_buckets, partitions=partitions),
                       RedisBatchViews(connection, partitions), RedisViewReader(connection, owners, partitions))


def force_rebalances(settings: Settings, group: str, cycles: int,
                     before_each: Callable[[int], object] = lambda i: None) -> int:
    """Join ``group`` with a throwaway dynamic member and leave again, ``cycles`` times: each join
    and each leave is a rebalance of the group. Returns how many were forced."""
    from app import wiring

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


def with_ledger(settings: Settings, audit_store: str, **more) -> Settings:
    """``settings`` with an audit ledger of its own: its store at ``audit_store`` and its anchor
    topic, created now (one anchor topic per ledger, as in a deployment)."""
    own = settings.replace(audit_store=audit_store, audit_topic=f"audit-{uuid.uuid4().hex[:10]}", **more)
    create_audit_topic(own)
    return own


def collected(result) -> tuple[dict, dict, dict]:
    """A batch result's three views in memory (totals, hourly, daily), to compare two results."""
    return result.views.collect_totals(), result.views.collect_hourly(), result.views.collect_daily()


def create_audit_topic(settings: Settings) -> None:
    from app import wiring

    admin = wiring.topic_admin(settings)
    try:
        admin.ensure_topics([wiring.audit_topic_spec(settings)])
        admin.await_visible(settings.audit_topic)
    finally:
        admin.close()


def produce_traffic(settings: Settings, lines: list[bytes]) -> None:
    """Send generated lines to the settings' topic, each stamped with its own ingest time."""
    from app import wiring
    from devtools.generate import INGEST_TIME_FIELD
    from ingestion.produce import produce_lines

    producer = wiring.producer(settings)
    try:
        report = produce_lines(lines, producer, settings.topic, INGEST_TIME_FIELD)
    finally:
        producer.close()
    assert report.sent == len(lines) and not report.failed


def read_topic(settings: Settings, topic: str, partitions: Sequence[int] = (0, 1, 2)) -> list:
    """Every record of ``topic``'s partitions, from the beginning to the end offsets of now."""
    from app import wiring

    consumer = wiring.consumer(settings)
    got = []
    try:
        consumer.assign(topic, list(partitions))
        ends = consumer.end_offsets(list(partitions))
        for p in partitions:
            consumer.seek(p, 0)
        while any(consumer.position(p) < ends[p] for p in partitions):
            for records in consumer.poll(1.0).values():
                got.extend(records)
    finally:
        consumer.close()
    return got


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the 3-broker Kafka cluster run last: once started, its three JVMs keep a
    fifth of a core busy while idle, which every test after them would pay for."""
    items.sort(key=lambda item: "kafka_cluster" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory) -> Settings:
    return settings_for(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def stack(stack_settings) -> Iterator[Stack]:
    """Kafka and Redis, started once for the session, with the anchor topic of the session's ledger."""
    running = Stack(stack_settings)
    running.up(CORE, progress=lambda line: None)
    create_audit_topic(stack_settings)
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
def redis_cluster(stack, stack_settings) -> Settings:
    """A Redis Cluster of 6 nodes (3 masters, 3 replicas) beside the session's Redis, started once,
    the first time a test asks for it: the session's settings with REDIS_URL pointing at it."""
    from devtools.stack.redis_cluster import CLUSTER_NODES, cluster_address

    stack.up(CLUSTER_NODES, progress=lambda line: None)
    return stack_settings.replace(redis_url=cluster_address(stack_settings))


@pytest.fixture(scope="session")
def kafka_cluster(stack, stack_settings) -> Settings:
    """3 KRaft brokers beside the session's one broker, started once, the first time a test asks for
    them: the session's settings with KAFKA_BOOTSTRAP at them and topics of 3 replicas."""
    from devtools.stack.kafka_cluster import KAFKA_NODES, cluster_bootstrap

    stack.up(KAFKA_NODES, progress=lambda line: None)
    return stack_settings.replace(kafka_bootstrap=cluster_bootstrap(stack_settings), topic_replication=3)


@pytest.fixture(scope="session")
def cluster_client(redis_cluster):
    """A plain client of the session's Redis Cluster (``redis.RedisCluster``)."""
    from adapters.redis.connection import RedisConfig, RedisConnection

    client = RedisConnection(RedisConfig(redis_cluster.redis_url)).client
    yield client
    client.close()


@pytest.fixture(params=["redis", "redis-cluster"])
def serving_redis(request) -> tuple[Settings, object]:
    """(settings, a plain client) of each kind of serving store: the contract tests of the serving
    store take this, and run against a single Redis and against a Redis Cluster."""
    if request.param == "redis":
        return request.getfixturevalue("stack_settings"), request.getfixturevalue("redis_client")
    return request.getfixturevalue("redis_cluster"), request.getfixturevalue("cluster_client")


@pytest.fixture(scope="session")
def hdfs(stack) -> Stack:
    """The NameNode and DataNode, started once, the first time a test asks for them."""
    stack.up(HDFS, progress=lambda line: None)
    return stack


@pytest.fixture(scope="session")
def kerberized_hdfs(tmp_path_factory) -> Iterator[Stack]:
    """A second HDFS, that checks Kerberos credentials, with a KDC of its own, started once, the
    first time a test asks for it. Meanwhile this process is a client of its realm, as a deployment's
    processes are: a client keytab in KRB5_CLIENT_KTNAME."""
    from devtools.stack.kerberos import client_environment
    from devtools.stack.manager import hdfs_services

    settings = settings_for(tmp_path_factory.mktemp("kerberized"), hdfs_auth="kerberos")
    running = Stack(settings)
    with pytest.MonkeyPatch.context() as env:
        for name, value in client_environment(settings).items():
            env.setenv(name, value)
        try:
            running.up(hdfs_services(settings), progress=lambda line: None)
            yield running
        finally:
            running.down(progress=lambda line: None)


@pytest.fixture(scope="session")
def spark_cluster(stack) -> str:
    """A Spark standalone master and worker, started once, the first time a test asks for them;
    their master URL."""
    from devtools.stack.spark import master_url

    stack.up(SPARK, progress=lambda line: None)
    return master_url(stack.settings)


_topic_numbers = itertools.count()


@pytest.fixture
def make_topic(stack, stack_settings) -> Callable[..., str]:
    """Create a fresh topic for one test: ``make_topic(partitions=3)`` → its name."""
    from app import wiring
    from adapters.kafka.seam import TopicSpec

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

    # py4j logs each connection it closes, also from a garbage collection that runs inside pytest's
    # teardown, after the test's log capture has closed its stream, and at interpreter exit.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session = spark_session("local[2]", "viewcount-tests", shuffle_partitions=4)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@contextmanager
def serving(app, port: int | None = None) -> Iterator[str]:
    """The app on uvicorn, on ``port`` (default: a free loopback port); yields its base URL."""
    import uvicorn

    port = port or free_ports(1)[0]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, what="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def browser():
    """Headless Chromium (selenium), closed after the test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail("chromium and chromedriver are needed (make test installs them: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()
