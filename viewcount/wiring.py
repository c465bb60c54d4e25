"""The one place where settings become clients. Everything else receives them as arguments."""

from __future__ import annotations

from urllib.parse import urlsplit

from viewcount.kafka.kafka_python import (
    KafkaPythonAdmin,
    KafkaPythonConfig,
    KafkaPythonConsumer,
    KafkaPythonProducer,
)
from viewcount.kafka.seam import RecordConsumer, RecordProducer, TopicAdmin, TopicSpec
from viewcount.settings import Settings
from viewcount.storage.base import FileStore
from viewcount.storage.local import LocalFileStore, LocalStoreConfig
from viewcount.storage.webhdfs import WebHdfsFileStore, WebHdfsStoreConfig


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


def file_store(settings: Settings, url: str) -> FileStore:
    """The file store behind a ``file:///…`` or ``hdfs://…`` URL (RAW_STORE, AUDIT_STORE)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalFileStore(LocalStoreConfig(root=parts.path))
    return WebHdfsFileStore(WebHdfsStoreConfig(url=url, webhdfs_url=settings.webhdfs_url,
                                               user=settings.hdfs_user))


def raw_store(settings: Settings) -> FileStore:
    return file_store(settings, settings.raw_store)
