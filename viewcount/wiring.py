"""The one place where settings become clients. Everything else receives them as arguments."""

from __future__ import annotations

from urllib.parse import urlsplit

from viewcount.kafka.confluent import ConfluentAdmin, ConfluentConfig, ConfluentConsumer, ConfluentProducer
from viewcount.kafka.kafka_python import (
    KafkaPythonAdmin,
    KafkaPythonConfig,
    KafkaPythonConsumer,
    KafkaPythonProducer,
)
from viewcount.kafka.seam import RecordConsumer, RecordProducer, TopicAdmin, TopicSpec
from viewcount.serving_store.redis_store import RedisServingStore, RedisStoreConfig
from viewcount.settings import Settings
from viewcount.storage.base import FileStore
from viewcount.storage.local import LocalFileStore, LocalStoreConfig
from viewcount.storage.webhdfs import WebHdfsFileStore, WebHdfsStoreConfig


def _kafka(settings: Settings):
    """(config class, producer, consumer, admin) of the client KAFKA_CLIENT names."""
    if settings.kafka_client == "kafka-python":
        return KafkaPythonConfig, KafkaPythonProducer, KafkaPythonConsumer, KafkaPythonAdmin
    return ConfluentConfig, ConfluentProducer, ConfluentConsumer, ConfluentAdmin


def kafka_config(settings: Settings, **overrides):
    config_cls = _kafka(settings)[0]
    return config_cls.from_mapping({"bootstrap_servers": settings.kafka_bootstrap, **overrides})


def producer(settings: Settings, **overrides) -> RecordProducer:
    return _kafka(settings)[1](kafka_config(settings, **overrides))


def consumer(settings: Settings, group_id: str | None = None, **overrides) -> RecordConsumer:
    """A consumer; in a group (``group_id``) a static member with KAFKA_GROUP_INSTANCE_ID."""
    overrides.setdefault("session_timeout_ms", settings.kafka_session_timeout)
    if group_id and settings.kafka_group_instance_id:
        overrides.setdefault("group_instance_id", settings.kafka_group_instance_id)
    return _kafka(settings)[2](kafka_config(settings, group_id=group_id, **overrides))


def topic_admin(settings: Settings) -> TopicAdmin:
    return _kafka(settings)[3](kafka_config(settings))


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The views and dead-letter topics. ``segment.ms`` equals the retention so a backfill with
    old timestamps is not rolled into segments that expire before the sinks have read them."""
    configs = {
        "retention.ms": str(settings.topic_retention),
        "segment.ms": str(settings.topic_retention),
        "cleanup.policy": "delete",
        # with three replicas an acknowledged write survives one broker's loss
        "min.insync.replicas": "2" if settings.topic_replication >= 3 else "1",
    }
    return [
        TopicSpec(settings.topic, settings.topic_partitions, settings.topic_replication, configs),
        TopicSpec(settings.dlq_topic, settings.topic_partitions, settings.topic_replication, configs),
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


def serving_store(settings: Settings) -> RedisServingStore:
    return RedisServingStore(RedisStoreConfig(url=settings.redis_url, prefix=settings.redis_prefix))


def serving_reader(settings: Settings, timeout_s: float = 5.0, retries: int = 10):
    """The asyncio read side of the serving store (what the API awaits)."""
    from viewcount.serving_store.redis_reader import RedisServingReader

    return RedisServingReader(RedisStoreConfig(url=settings.redis_url, prefix=settings.redis_prefix,
                                               socket_timeout_s=timeout_s, retries=retries))


def api_app(settings: Settings):
    """The HTTP API: a Redis store that fails fast (503, not a hung request), the admin token and
    creator keys, the per-key rate limit."""
    from audit.ledger import AuditLedger
    from billing.payouts import PayoutBook
    from serving_layer.app import create_app
    from serving_layer.auth import Authenticator, load_api_keys
    from serving_layer.ratelimit import RateLimiter

    store = serving_reader(settings, timeout_s=settings.serve_request_timeout / 1000, retries=0)
    limiter = (RateLimiter(settings.serve_rate_limit, 2 * settings.serve_rate_limit)
               if settings.serve_rate_limit else None)
    return create_app(store, Authenticator(settings.admin_token, load_api_keys(settings.api_keys_file)),
                      limiter, settings.topic, payouts=PayoutBook(AuditLedger(file_store(settings, settings.audit_store))))
