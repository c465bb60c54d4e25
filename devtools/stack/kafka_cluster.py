"""A replicated Kafka cluster on loopback: 3 KRaft nodes, as `stack up --cluster` starts it.

Each node is broker and controller in one process (``kafka-node-1`` … ``kafka-node-3``), and the
three form one controller quorum. Topics keep 3 replicas with ``min.insync.replicas=2``, as in a
deployment: a write acknowledged by ``acks=all`` is on two brokers at least, so losing any one
loses nothing, and producing goes on while two remain.
"""

from __future__ import annotations

import time

from devtools.stack.exceptions import StackError
from devtools.stack.services import KafkaNode, _port_open, broker_count
from viewcount.settings import Settings

NODES = 3
KAFKA_NODES = tuple(f"kafka-node-{i}" for i in range(1, NODES + 1))


def broker_ports(settings: Settings) -> list[int]:
    """The brokers' client ports (their controller ports are the ``NODES`` after these)."""
    return [settings.kafka_cluster_port_base + i for i in range(NODES)]


def cluster_bootstrap(settings: Settings) -> str:
    """The ``KAFKA_BOOTSTRAP`` of the local cluster: every broker, so a client starts with any."""
    return ",".join(f"127.0.0.1:{port}" for port in broker_ports(settings))


class KafkaClusterNode(KafkaNode):
    replicas = NODES
    heap = "512m"

    def __init__(self, settings: Settings, index: int) -> None:
        self.name = f"kafka-node-{index}"
        super().__init__(settings)
        self.node_id = index
        self.port = broker_ports(settings)[index - 1]
        self.controller_port = self.port + NODES
        if self.controller_port + NODES > 65535:
            raise StackError(f"KAFKA_CLUSTER_PORT_BASE {settings.kafka_cluster_port_base} leaves no room for the "
                             f"cluster's {2 * NODES} ports")

    def ports(self) -> list[tuple[str, int]]:
        return [(self.host, self.port), (self.host, self.controller_port)]

    def voters(self) -> str:
        return ",".join(f"{i}@{self.host}:{port + NODES}" for i, port in enumerate(broker_ports(self.settings), 1))

    def cluster_id(self) -> str:
        """One id for the three, kept beside their folders by the first to be formatted."""
        shared = self.home.parent / "kafka-cluster-id"
        if not shared.exists():
            shared.write_text(super().cluster_id() + "\n")
        return shared.read_text().strip()

    def more_properties(self) -> list[str]:
        return [
            # a broker that stops heartbeating is fenced, and its partitions led and its replicas
            # dropped from ISR elsewhere, within 3 s (defaults: 9 s), so a test sees failover quickly
            "broker.session.timeout.ms=3000",
            "broker.heartbeat.interval.ms=1000",
            # an idle quorum appends a no-op record every 500 ms by default: three JVMs replicating
            # them cost a fifth of a core on a laptop doing nothing else
            "metadata.max.idle.interval.ms=5000",
        ]

    def healthy(self) -> bool:
        """The node takes part in the quorum. Its broker serves once a quorum exists, so with the
        nodes started one after another the first could not wait for that: :func:`form_cluster`
        waits for every broker once all run."""
        return _port_open(self.host, self.controller_port)


def brokers_up(settings: Settings) -> int:
    """How many unfenced brokers the cluster reports (0 while it has no quorum)."""
    from adapters.kafka.exceptions import KafkaSeamError

    if not any(_port_open("127.0.0.1", port) for port in broker_ports(settings)):
        return 0
    try:
        return broker_count(cluster_bootstrap(settings))
    except KafkaSeamError:      # listening, but not serving yet
        return 0


def form_cluster(settings: Settings, progress=print, timeout_s: float = 90.0) -> None:
    """Wait until all three brokers are registered and unfenced."""
    started = time.monotonic()
    while (up := brokers_up(settings)) < NODES:
        if time.monotonic() - started > timeout_s:
            raise StackError(f"the Kafka cluster at {cluster_bootstrap(settings)} has {up} of {NODES} brokers "
                             f"after {timeout_s:.0f}s; see each kafka-node's log")
        time.sleep(0.2)
    progress(f"{'kafka-cluster':12} formed at {cluster_bootstrap(settings)} in {time.monotonic() - started:.1f}s")
