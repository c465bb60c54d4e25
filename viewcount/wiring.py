"""The one place where settings become clients. Everything else receives them as arguments."""

from __future__ import annotations

from viewcount.kafka.kafka_python import (
    KafkaPythonAdmin,
    KafkaPythonConfig,
    KafkaPythonConsumer,
    KafkaPythonProducer,
)
from viewcount.kafka.seam import RecordConsumer, RecordProducer, TopicAdmin, TopicSpec
from viewcount.settings import Settings


def kafka_config(settings: Settings, **overrides) -> KafkaPythonConfig:
    return KafkaPythonConfig.from_mapping({"bootstrap_servers": settings.kafka_bootstrap, **overrides})


def producer(settings: Settings, **overrides) -> RecordProducer:
    return KafkaPythonProducer(kafka_config(settings, **overrides))


def consumer(settings: Settings, group_id: str | None = None, **overrides) -> RecordConsumer:
    return KafkaPythonConsumer(kafka_config(settings, group_id=group_id, **overrides))


def topic_admin(settings: Settings) -> TopicAdmin:
    return KafkaPythonAdmin(kafka_config(settings))


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The views and dead-letter topics. ``segment.ms`` equals the retention so a backfill with
    old timestamps is not rolled into segments that expire before the sinks have read them."""
    configs = {
        "retention.ms": str(settings.topic_retention),
        "segment.ms": str(settings.topic_retention),
        "cleanup.policy": "delete",
    }
    return [
        TopicSpec(settings.topic, settings.topic_partitions, 1, configs),
        TopicSpec(settings.dlq_topic, settings.topic_partitions, 1, configs),
    ]
