"""The one place where settings become clients. Everything else receives them as arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from adapters.files.base import FileStore
from adapters.files.local import LocalFileStore, LocalStoreConfig
from adapters.files.webhdfs import WebHdfsFileStore, WebHdfsStoreConfig
from adapters.kafka.confluent import ConfluentAdmin, ConfluentConfig, ConfluentConsumer, ConfluentProducer
from adapters.kafka.kafka_python import (
    KafkaPythonAdmin,
    KafkaPythonConfig,
    KafkaPythonConsumer,
    KafkaPythonProducer,
)
from adapters.kafka.runtime import Gap
from adapters.kafka.security import KafkaSecurity
from adapters.kafka.seam import RecordConsumer, RecordProducer, TopicAdmin, TopicSpec
from adapters.redis.connection import AsyncRedisConnection, RedisConfig, RedisConnection
from app.layer_process import LayerProcess
from viewcount import __version__
from viewcount.failpoints import Failpoints
from viewcount.errors import SettingsError
from viewcount.settings import Settings

if TYPE_CHECKING:  # the layers are imported where a client is built, so a command loads only its own
    from audit.ledger import AuditLedger
    from batch_layer.redis_views import RedisBatchViews
    from catalog.store import CatalogStore, CatalogView
    from expectations.runner import DataDocs
    from ingestion.compact import Compactor
    from serving_layer.owners import CatalogSource, Owners
    from viewcount.ownership import Catalog
    from serving_layer.redis_reader import RedisServingReader, RedisViewReader
    from speed_layer.redis_store import RedisCountStore


@dataclass(frozen=True)
class KafkaDriver:
    """One Kafka client library behind the seam: its typed config and its three clients."""

    config: type
    producer: type
    consumer: type
    admin: type


KAFKA_DRIVERS = {
    "confluent-kafka": KafkaDriver(ConfluentConfig, ConfluentProducer, ConfluentConsumer, ConfluentAdmin),
    "kafka-python": KafkaDriver(KafkaPythonConfig, KafkaPythonProducer, KafkaPythonConsumer, KafkaPythonAdmin),
}


def _kafka(settings: Settings) -> KafkaDriver:
    """The client library KAFKA_CLIENT names."""
    return KAFKA_DRIVERS[settings.kafka_client]


def kafka_config(settings: Settings, **overrides):
    config_cls = _kafka(settings).config
    return config_cls.from_mapping({"bootstrap_servers": settings.kafka_bootstrap,
                                    "request_timeout_ms": settings.kafka_request_timeout,
                                    "security": kafka_security(settings), **overrides})


def kafka_security(settings: Settings) -> KafkaSecurity:
    """TLS and SASL for every Kafka client, from KAFKA_CONFIG_FILE (plain text without one)."""
    if not settings.kafka_config_file:
        return KafkaSecurity()
    path = Path(settings.kafka_config_file)
    try:
        text = path.read_text()
    except OSError as e:
        raise SettingsError("KAFKA_CONFIG_FILE", f"cannot read {path}: {e.strerror}") from e
    return KafkaSecurity.from_properties(text, source=str(path))


def producer(settings: Settings, **overrides) -> RecordProducer:
    return _kafka(settings).producer(kafka_config(settings, **overrides))


def consumer(settings: Settings, group_id: str | None = None, **overrides) -> RecordConsumer:
    """A consumer; in a group (``group_id``) a static member with KAFKA_GROUP_INSTANCE_ID."""
    overrides.setdefault("session_timeout_ms", settings.kafka_session_timeout)
    if group_id and settings.kafka_group_instance_id:
        overrides.setdefault("group_instance_id", settings.kafka_group_instance_id)
    return _kafka(settings).consumer(kafka_config(settings, group_id=group_id, **overrides))


def topic_admin(settings: Settings) -> TopicAdmin:
    return _kafka(settings).admin(kafka_config(settings))


def topic_partition_ids(settings: Settings) -> list[int]:
    """The views topic's partitions, which must number ``TOPIC_PARTITIONS``: the serving store
    keeps each video's keys under its partition's tag (viewcount.keys), and the speed layer,
    the batch publish and the API find them by that number."""
    admin = topic_admin(settings)
    try:
        found = admin.partitions(settings.topic)
    finally:
        admin.close()
    if len(found) != settings.topic_partitions:
        raise SettingsError("TOPIC_PARTITIONS", f"is {settings.topic_partitions}, but {settings.topic} has "
                                                f"{len(found)} partitions: set it to {len(found)} everywhere (the "
                                                f"serving store keeps each video's keys with its partition's)")
    return found


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The views and dead-letter topics. ``segment.ms`` equals the retention so a backfill with
    old timestamps is not rolled into segments that expire before the sinks have read them."""
    configs = {
        "retention.ms": str(settings.topic_retention),
        "segment.ms": str(settings.topic_retention),
        "cleanup.policy": "delete",
        # with three replicas an acknowledged write survives one broker's loss
        "min.insync.replicas": "2" if settings.topic_replication >= 3 else "1",
        # CONTRACT §1: no producer's clock moves a partition's ingest time into the future
        "message.timestamp.after.max.ms": str(settings.max_clock_skew),
    }
    return [
        TopicSpec(settings.topic, settings.topic_partitions, settings.topic_replication, configs),
        TopicSpec(settings.dlq_topic, settings.topic_partitions, settings.topic_replication, configs),
        audit_topic_spec(settings),
    ]


def audit_topic_spec(settings: Settings) -> TopicSpec:
    """The ledger's anchor: one partition, nothing ever deleted or compacted away."""
    return TopicSpec(settings.audit_topic, 1, settings.topic_replication, {
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "cleanup.policy": "delete",
        "min.insync.replicas": "2" if settings.topic_replication >= 3 else "1",
    })


def file_store(settings: Settings, url: str) -> FileStore:
    """The file store behind a ``file:///…`` or ``hdfs://…`` URL (RAW_STORE, AUDIT_STORE)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalFileStore(LocalStoreConfig(root=parts.path))
    return WebHdfsFileStore(WebHdfsStoreConfig(
        url=url, webhdfs_url=settings.webhdfs_url, user=settings.hdfs_user, auth=settings.hdfs_auth,
        kerberos_principal=settings.hdfs_kerberos_principal, delegation_token=settings.hdfs_delegation_token))


def audit_ledger(settings: Settings) -> AuditLedger:
    """The ledger in AUDIT_STORE, each record anchored in AUDIT_TOPIC as it is appended."""
    from audit.kafka_anchor import KafkaLedgerAnchor
    from audit.ledger import AuditLedger

    anchor = KafkaLedgerAnchor(producer(settings), lambda: consumer(settings), settings.audit_topic)
    return AuditLedger(file_store(settings, settings.audit_store), anchor)


def raw_store(settings: Settings) -> FileStore:
    return file_store(settings, settings.raw_store)


def compactor(settings: Settings, ledger: AuditLedger) -> Compactor:
    """Merges the raw store's small files of closed hours, recording each merge in ``ledger``."""
    from ingestion.compact import Compactor

    return Compactor(raw_store(settings), ledger, failpoint=Failpoints.parse(settings.failpoints))


def data_docs(settings: Settings) -> DataDocs:
    """The Great Expectations project that keeps the batch's and billing's check results, and
    their Data Docs."""
    from expectations.runner import DataDocs

    return DataDocs(Path(settings.state_dir) / "great_expectations")


def redis_config(settings: Settings, **overrides) -> RedisConfig:
    return RedisConfig(url=settings.redis_url, prefix=settings.redis_prefix, **overrides)


def count_store(settings: Settings) -> RedisCountStore:
    """The speed layer's store: the atomic step on Redis."""
    from speed_layer.redis_store import RedisCountStore

    return RedisCountStore(RedisConnection(redis_config(settings)), settings.speed_state_buckets,
                           partitions=settings.topic_partitions)


def batch_views(settings: Settings) -> RedisBatchViews:
    """Where batch versions are published for readers, and the pointer billing reads."""
    from batch_layer.redis_views import RedisBatchViews

    return RedisBatchViews(RedisConnection(redis_config(settings)), settings.topic_partitions)


def catalog_store(settings: Settings) -> CatalogStore:
    """The video catalog (CONTRACT §9): ``ownership`` records in the audit ledger, anchored."""
    from catalog.store import CatalogStore

    return CatalogStore(audit_ledger(settings))


def catalog(settings: Settings) -> Catalog:
    """The catalog as the ledger holds it now, read once (no anchor: nothing is appended)."""
    from audit.ledger import AuditLedger
    from catalog.store import CatalogStore

    return CatalogStore(AuditLedger(file_store(settings, settings.audit_store))).load()


def catalog_view(settings: Settings) -> CatalogView:
    """The catalog as a long-running process sees it, refreshed from the ledger every few seconds
    (the API also writes assignments through it)."""
    from catalog.store import CatalogView

    return CatalogView(catalog_store(settings))


def owners(settings: Settings, catalog: CatalogSource | None = None) -> Owners:
    """Who owns a video now: the catalog, then the first claim (or no one, OWNERSHIP=catalog)."""
    from serving_layer.owners import Owners

    return Owners(catalog or catalog_view(settings), settings.ownership_mode)


def view_reader(settings: Settings) -> RedisViewReader:
    """The merged read, blocking (the CLI's ``views``, checks)."""
    from serving_layer.redis_reader import RedisViewReader

    return RedisViewReader(RedisConnection(redis_config(settings)), owners(settings), settings.topic_partitions)


def serving_reader(settings: Settings, timeout_s: float = 5.0, retries: int = 10,
                   catalog: CatalogSource | None = None,
                   connection: AsyncRedisConnection | None = None) -> RedisServingReader:
    """The merged read for the asyncio API (on ``connection``, which it closes, when given)."""
    from serving_layer.redis_reader import RedisServingReader

    connection = connection or AsyncRedisConnection(redis_config(settings, socket_timeout_s=timeout_s, retries=retries))
    return RedisServingReader(connection, owners(settings, catalog), settings.topic_partitions)


def raw_sink(settings: Settings, metrics, client_id: str = "viewcount-raw-sink",
             accept_gap: bool = False) -> LayerProcess:
    """The raw sink in the ingest group, with its consumer and dead-letter producer."""
    from ingestion.sink import RawSink, SinkConfig

    config = SinkConfig(topic=settings.topic, dlq_topic=settings.dlq_topic,
                        flush_records=settings.ingest_flush_records, flush_bytes=settings.raw_flush_bytes,
                        flush_age_s=settings.ingest_flush_age / 1000, accept_gap=accept_gap,
                        encode_threads=settings.ingest_encode_threads)
    source = consumer(settings, group_id=settings.ingest_group, client_id=client_id)
    dlq = producer(settings, client_id=f"{client_id}-dlq")
    # An accepted gap is a hole in the master dataset as well: the batch refuses it until
    # `batch accept-hole` records it there.
    sink = RawSink(config, source, dlq, raw_store(settings), metrics, failpoint=Failpoints.parse(settings.failpoints),
                   on_gap=gap_recorder(settings, "raw sink", metrics.retention_gap))
    return LayerProcess(sink, [source, dlq])


def gap_recorder(settings: Settings, layer: str, counter) -> Callable[[Gap], None]:
    """Counts an accepted retention gap's records on ``counter`` and writes it to the audit
    ledger (anchored), as it happens."""
    from audit.kinds import RETENTION_GAP_ACCEPTED

    def record(gap: Gap) -> None:
        counter.inc(gap.records)
        with audit_ledger(settings) as ledger:
            ledger.append(RETENTION_GAP_ACCEPTED, {"layer": layer, "topic": gap.topic, "partition": gap.partition,
                                                   "first_offset": gap.first, "last_offset": gap.last,
                                                   "records": gap.records}, {"code_version": __version__})

    return record


def speed_counter(settings: Settings, metrics, client_id: str = "viewcount-speed",
                  accept_gap: bool = False) -> LayerProcess:
    """The speed layer in the speed group, counting into Redis."""
    from speed_layer.counter import SpeedConfig, SpeedCounter
    from speed_layer.redis_store import RedisCountStore

    config = SpeedConfig(settings.topic, settings.rules, settings.speed_bucket_retention, accept_gap=accept_gap)
    redis = RedisConnection(redis_config(settings))
    redis.ping()
    redis.require_no_eviction("the speed layer")
    store = RedisCountStore(redis, settings.speed_state_buckets, partitions=settings.topic_partitions)
    store.check_state_layout(settings.topic)
    topic_partition_ids(settings)
    source = consumer(settings, group_id=settings.speed_group, client_id=client_id)
    counter = SpeedCounter(config, source, store, metrics, failpoint=Failpoints.parse(settings.failpoints),
                           on_gap=gap_recorder(settings, "speed layer", metrics.retention_gap))
    return LayerProcess(counter, [source])


# Failed authentications per client address: 20 at once, then one every 5 s. A misconfigured
# client waits seconds; guessing a 32-character token or a 256-bit key stays hopeless.
FAILED_AUTH_BURST, FAILED_AUTH_PER_S = 20, 0.2


def api_app(settings: Settings):
    """The HTTP API: a Redis store that fails fast (503, not a hung request), the admin token and
    creator keys, the per-key rate limit."""
    from audit.ledger import AuditLedger
    from billing.payouts import PayoutBook
    from billing.statement import StatementShelf
    from serving_layer.app import create_app
    from serving_layer.auth import Authenticator, load_api_keys
    from serving_layer.ratelimit import RateLimiter
    from serving_layer.redis_ratelimit import RedisRateLimiter

    checked = RedisConnection(redis_config(settings))
    try:
        checked.require_no_eviction("the API")
    finally:
        checked.close()
    catalog = catalog_view(settings)
    redis = AsyncRedisConnection(redis_config(settings, socket_timeout_s=settings.serve_request_timeout / 1000,
                                              retries=0))
    store = serving_reader(settings, catalog=catalog, connection=redis)
    # Creator keys are paced in Redis, so that every replica of the API takes from one bucket.
    limiter = (RedisRateLimiter(redis, settings.serve_rate_limit, 2 * settings.serve_rate_limit)
               if settings.serve_rate_limit else None)
    audit = file_store(settings, settings.audit_store)
    return create_app(store, Authenticator(settings.admin_token, load_api_keys(settings.api_keys_file, reload=True)),
                      limiter, settings.topic, payouts=PayoutBook(AuditLedger(audit)), catalog=catalog,
                      failed_auth=RateLimiter(FAILED_AUTH_PER_S, FAILED_AUTH_BURST),
                      statements=StatementShelf(audit))


def collector_app(settings: Settings):
    """The ingest edge (CONTRACT §8): write keys, the idempotent producer (acks=all), readiness
    from the topic's metadata. Returns the app and what to close when it stops."""
    from collector.app import CollectorConfig, create_collector
    from collector.exceptions import CollectorConfigError
    from collector.keys import load_write_keys

    if not settings.collector_ip_hmac_key:
        raise CollectorConfigError("VIEWCOUNT_COLLECTOR_IP_HMAC_KEY must be set (at least 32 characters, e.g. "
                                   "`openssl rand -hex 24`): the collector stamps an HMAC of each client address")
    write_keys = load_write_keys(settings.collector_keys_file, reload=True)
    config = CollectorConfig(settings.topic, settings.collector_ack_timeout / 1000,
                             tuple(o.strip() for o in settings.collector_allowed_origins.split(",") if o.strip()),
                             settings.collector_ip_hmac_key.encode(), settings.collector_body_timeout / 1000)
    sender = producer(settings, client_id="viewcount-collector")
    admin = topic_admin(settings)

    def ready() -> bool:
        try:
            return bool(admin.partitions(settings.topic))
        except Exception:  # noqa: BLE001 - any failure to reach the broker means "not ready"
            return False

    return create_collector(config, sender, write_keys, ready), [sender, admin]
