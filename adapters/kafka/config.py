"""What every Kafka client configuration holds, whichever driver reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.kafka.exceptions import KafkaSeamError
from adapters.kafka.security import KafkaSecurity
from viewcount.typed_config import typed_config

C = TypeVar("C", bound="KafkaClientConfig")


@dataclass(frozen=True)
class KafkaClientConfig:
    """Client settings shared by both drivers; each driver's config adds its own. Unknown keys are
    rejected by :meth:`from_mapping`."""

    bootstrap_servers: str
    client_id: str = "viewcount"
    group_id: str | None = None
    group_instance_id: str | None = None   # static membership (KIP-345) when set
    session_timeout_ms: int = 45_000
    max_poll_interval_ms: int = 300_000    # a member that does not poll for this long leaves the group
    max_poll_records: int = 5000
    request_timeout_ms: int = 30_000
    linger_ms: int = 5
    max_request_size: int = 1_048_576
    compression_type: str | None = None
    security: KafkaSecurity = KafkaSecurity()   # TLS and SASL (KAFKA_CONFIG_FILE)

    @classmethod
    def from_mapping(cls: type[C], values: Mapping[str, Any]) -> C:
        return typed_config(cls, values, KafkaSeamError)

    @property
    def heartbeat_interval_ms(self) -> int:
        """Members learn of a rebalance from a heartbeat's answer: about every second, so a joining
        or restarted member is assigned promptly (and never less than a third of the session)."""
        return min(1000, max(300, self.session_timeout_ms // 3))
