"""`viewcount stack up|down|status`: the services in dependency order."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from viewcount.settings import Settings
from devtools.stack.exceptions import ServiceFailed, StackError
from devtools.stack.process import ManagedProcess, wait_until
from devtools.stack.services import (
    DataNodeService,
    KafkaService,
    NameNodeService,
    RedisService,
    Service,
    _port_open,
)
from devtools.stack import kafka_cluster, redis_cluster
from devtools.stack.kafka_cluster import KAFKA_NODES, KafkaClusterNode
from devtools.stack.kerberos import KdcService
from devtools.stack.redis_cluster import CLUSTER_NODES, RedisClusterNode
from devtools.stack.spark import SparkMasterService, SparkWorkerService

logger = logging.getLogger(__name__)

CORE = ("kafka", "redis")
HDFS = ("namenode", "datanode")
SPARK = ("spark-master", "spark-worker")
CLUSTER = KAFKA_NODES + CLUSTER_NODES
ALL = CORE + CLUSTER + ("kdc",) + HDFS + SPARK


def hdfs_services(settings: Settings) -> tuple[str, ...]:
    """The NameNode and DataNode, after a KDC of their own when HDFS checks Kerberos credentials."""
    return (("kdc",) if settings.hdfs_auth != "simple" else ()) + HDFS


def cluster_settings(settings: Settings) -> dict[str, object]:
    """The settings (by field name) that point every process at `stack up --cluster`'s Kafka and
    Redis clusters: ``settings.replace(**cluster_settings(settings))``."""
    return {"kafka_bootstrap": kafka_cluster.cluster_bootstrap(settings), "topic_replication": kafka_cluster.NODES,
            "redis_url": redis_cluster.cluster_address(settings)}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    healthy: bool
    pid: int | None
    address: str


class Stack:
    """The local services, each with its pid file and log under ``STATE_DIR/stack``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.state_dir) / "stack"
        self._services: dict[str, Service] = {}
        self._processes: dict[str, ManagedProcess] = {}

    def service(self, name: str) -> Service:
        if name in CLUSTER_NODES and name not in self._services:
            self._services[name] = RedisClusterNode(self.settings, CLUSTER_NODES.index(name) + 1)
        if name in KAFKA_NODES and name not in self._services:
            self._services[name] = KafkaClusterNode(self.settings, KAFKA_NODES.index(name) + 1)
        if name not in self._services:
            classes = {"kafka": KafkaService, "redis": RedisService,
                       "kdc": KdcService, "namenode": NameNodeService, "datanode": DataNodeService,
                       "spark-master": SparkMasterService, "spark-worker": SparkWorkerService}
            if name not in classes:
                raise StackError(f"unknown service {name!r}: expected one of {', '.join(ALL)}")
            self._services[name] = classes[name](self.settings)
        return self._services[name]

    def process(self, name: str) -> ManagedProcess:
        if name not in self._processes:
            home = self.root / name
            self._processes[name] = ManagedProcess(name, home / f"{name}.pid", home / f"{name}.log")
        return self._processes[name]

    def up(self, names: tuple[str, ...] = CORE, progress=print) -> list[ServiceStatus]:
        """Start what is not running, in order, each healthy before the next; idempotent."""
        for name in names:
            service, proc = self.service(name), self.process(name)
            if proc.alive():
                if wait_until(service.healthy, service.start_timeout_s(), still_running=proc.alive):
                    progress(f"{name:12} already running at {service.address}")
                    continue
                raise ServiceFailed(f"{name} is running but not healthy; log tail:\n{proc.log_tail()}")
            taken = [f"{h}:{p}" for h, p in service.ports() if _port_open(h, p)]
            if taken:
                raise StackError(f"cannot start {name}: port {', '.join(taken)} is in use by a process "
                                 "this stack did not start (change the port settings)")
            started = time.monotonic()
            service.home.mkdir(parents=True, exist_ok=True)
            service.prepare()
            proc.start(service.argv(), cwd=service.home, env=service.environment())
            if not wait_until(service.healthy, service.start_timeout_s(), still_running=proc.alive):
                state = "exited" if not proc.alive() else "did not become healthy"
                proc.stop(timeout_s=5)
                raise ServiceFailed(f"{name} {state} within {service.start_timeout_s():.0f}s; "
                                    f"log {proc.log_file}, tail:\n{proc.log_tail()}")
            progress(f"{name:12} started at {service.address} in {time.monotonic() - started:.1f}s")
        if set(KAFKA_NODES) <= set(names):
            kafka_cluster.form_cluster(self.settings, progress)
        if set(CLUSTER_NODES) <= set(names):
            redis_cluster.form_cluster(self.settings, progress)
        return self.status(names)

    def down(self, names: tuple[str, ...] = ALL, progress=print) -> None:
        """Stop what this stack started, dependents first. The Kafka cluster's nodes stop together:
        a broker's controlled shutdown needs a quorum of controllers, which the last one left alone
        would wait for in vain."""
        quorum = [n for n in reversed(names) if n in KAFKA_NODES]
        for name in reversed(names):
            if name in KAFKA_NODES and name != quorum[0]:
                continue
            together = quorum if name in KAFKA_NODES else [name]
            signalled = {n: self.process(n).signal() for n in together}
            for n, pid in signalled.items():
                if pid is None:
                    progress(f"{n:12} was not running")
                else:
                    self.process(n).wait_stopped(pid)
                    progress(f"{n:12} stopped")

    def status(self, names: tuple[str, ...] = ALL) -> list[ServiceStatus]:
        out = []
        for name in names:
            service, proc = self.service(name), self.process(name)
            pid = proc.pid()
            healthy = False
            if pid is not None:
                try:
                    healthy = service.healthy()
                except Exception as e:  # a probe failure is reported, not raised
                    logger.debug("%s health probe: %s", name, e)
            out.append(ServiceStatus(name, pid is not None, healthy, pid, service.address))
        return out
