"""Settings: ``VIEWCOUNT_*`` environment variables, typed and validated once at start.

Every layer reads the same :class:`Settings`, so the counting rules cannot drift between them.
A bad value fails with :class:`~viewcount.errors.SettingsError` naming the variable; an unknown
``VIEWCOUNT_*`` variable is refused too, because a misspelt knob that silently does nothing is
worse than an error.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from viewcount import keys
from viewcount.errors import SettingsError
from viewcount.ownership import OwnershipMode
from viewcount.rules import RuleSettings

PREFIX = "VIEWCOUNT_"
SECRET_MASK = "***"

_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}


def parse_duration_ms(text: str) -> int:
    """``"7d"``, ``"5m"``, ``"1h30m"``, ``"250ms"`` → milliseconds. A bare number is seconds."""
    text = text.strip()
    if text.isdigit():
        return int(text) * 1000
    pos, total = 0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNIT_MS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError("expected a duration such as 7d, 5m, 1h30m, 250ms or whole seconds")
    return total


def format_duration_ms(ms: int) -> str:
    """The inverse of :func:`parse_duration_ms`, largest units first (``0`` → ``"0s"``)."""
    parts = []
    for unit, size in _UNIT_MS.items():
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts) or "0s"


def _project_root() -> Path:
    """The source checkout this package runs from, else the working directory."""
    candidate = Path(__file__).resolve().parents[1]
    return candidate if (candidate / "pyproject.toml").is_file() else Path.cwd()


def _store_url(text: str) -> str:
    scheme = urlsplit(text).scheme
    if scheme not in ("file", "hdfs") or not urlsplit(text).path.startswith("/"):
        raise ValueError("expected file:///absolute/path or hdfs://host:port/absolute/path")
    return text.rstrip("/") or text


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError("must be a TCP port (1-65535)")
    return value


def _bootstrap(text: str) -> str:
    for server in text.split(","):
        host, sep, port = server.strip().rpartition(":")
        if not sep or not host:
            raise ValueError("expected host:port[,host:port...]")
        _port(port)
    return text


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        parts = urlsplit(text)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"expected a {'/'.join(schemes)}:// URL with a host")
        _ = parts.port  # raises ValueError on a bad port
        return text

    return parse


def _optional_url(*schemes: str) -> Callable[[str], str]:
    required = _url(*schemes)
    return lambda text: required(text) if text else text


def _keys_file(text: str) -> str:
    """A key file may not exist yet (`keys issue` creates it; a running process follows it once it
    does), but its folder must."""
    if text and not Path(text).is_file() and not Path(text).parent.is_dir():
        raise ValueError(f"no such file, nor a folder to create it in: {text}")
    return text


def _optional_file(text: str) -> str:
    if text and not Path(text).is_file():
        raise ValueError(f"no such file: {text}")
    return text


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return text

    return parse


def _jvm_memory(text: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[kmgKMG]", text):
        raise ValueError("expected a JVM memory size such as 512m or 4g")
    return text.lower()


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")
    return value


def _key_prefix(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", text):
        raise ValueError("expected 1-32 characters of [A-Za-z0-9_.-]")
    return text


def _failpoints(text: str) -> str:
    from viewcount.failpoints import Failpoints

    Failpoints.parse(text)   # unknown names are refused at start, not ignored at the step
    return text


def _group_instance_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{0,200}", text):
        raise ValueError("expected at most 200 characters of [A-Za-z0-9._-] (empty: off)")
    return text


def _instance_id(hostname: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", hostname)[:200]


_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB)?", re.ASCII)
_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def _byte_size(text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError("expected a size such as 64MiB, 512KiB or 1048576 (bytes), above 0")
    return int(match.group(1)) * _UNITS[match.group(2)]


MIN_ADMIN_TOKEN = 32


def _long_secret(text: str) -> str:
    if text and len(text) < MIN_ADMIN_TOKEN:
        raise ValueError(f"must be at least {MIN_ADMIN_TOKEN} characters (e.g. `openssl rand -hex 24`), "
                         f"not {len(text)}")
    return text


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


_SECRET_QUERY_KEYS = ("password", "passwd", "pass", "token", "secret")


def _mask_url_password(url: str) -> str:
    """The URL with its password masked, in the user part and in the query (``?password=``)."""
    parts = urlsplit(url)
    if parts.password is not None:
        netloc = f"{parts.username or ''}:{SECRET_MASK}@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    query = "&".join(f"{key}={SECRET_MASK}" if key.lower() in _SECRET_QUERY_KEYS and sep else f"{key}{sep}{value}"
                     for key, sep, value in (pair.partition("=") for pair in parts.query.split("&"))
                     ) if parts.query else ""
    return urlunsplit(parts._replace(query=query))


def mask_secret(value: str) -> str:
    """How a secret setting's value may be shown: a URL with its passwords masked, else ``***``."""
    if "://" in value:
        return _mask_url_password(value)
    return SECRET_MASK if value else ""


def _setting(default: Callable[[], str] | str, parse: Callable[[str], Any], *, secret: bool = False,
             duration: bool = False, doc: str = "") -> Any:
    meta = {"default": default, "parse": parse, "secret": secret, "duration": duration, "doc": doc}
    return field(metadata=meta)


@dataclass(frozen=True)
class Settings:
    """The effective settings. Field names are the variables without the prefix, lower-cased."""

    kafka_bootstrap: str = _setting("127.0.0.1:19092", _bootstrap, doc="Kafka bootstrap servers")
    kafka_request_timeout: int = _setting("30s", parse_duration_ms, duration=True,
                                          doc="longest one Kafka request waits for its answer: a command whose "
                                              "brokers do not answer fails after it")
    kafka_session_timeout: int = _setting("45s", parse_duration_ms, duration=True,
                                          doc="consumer group session timeout (how soon a dead member's partitions move)")
    kafka_group_instance_id: str = _setting(
        lambda: _instance_id(socket.gethostname()), _group_instance_id,
        doc="static group membership: this process's stable id in its consumer groups (default: the "
            "host name; empty: dynamic membership). A restarted member with the same id takes its "
            "partitions back at once; two live members of one group need different ids")
    failpoints: str = _setting("", _failpoints, doc="testing only: commit-protocol steps at which the layer "
                               "SIGKILLs itself, comma-separated (viewcount/failpoints.py); empty in production")
    kafka_config_file: str = _setting("", _optional_file,
                                      doc="client properties for both Kafka clients (security.protocol, sasl.*, ssl.*: "
                                          "TLS and SASL), one name=value per line; its secrets are never printed")
    kafka_client: str = _setting("confluent-kafka", _choice("confluent-kafka", "kafka-python"),
                                 doc="Kafka client behind the seam (confluent-kafka: the faster, measured in bench/)")
    redis_url: str = _setting("redis://127.0.0.1:16379/0", _url("redis", "rediss", "redis+cluster", "rediss+cluster"),
                              secret=True, doc="Redis serving store; redis+cluster:// (rediss+cluster:// with TLS) "
                                               "and any node's address for a Redis Cluster")
    raw_store: str = _setting(lambda: (_project_root() / ".viewcount" / "raw").as_uri(), _store_url,
                              doc="master dataset root, file:///… or hdfs://…")
    audit_store: str = _setting(lambda: (_project_root() / ".viewcount" / "audit").as_uri(),
                                _store_url, doc="audit ledger root, file:///… or hdfs://…")
    spark_master: str = _setting("local[*]", str, doc="Spark master URL")
    spark_conf: str = _setting("", _optional_file,
                               doc="a spark-defaults.conf (`spark.<key> <value>` lines) the batch session starts "
                                   "with: executor memory and cores, event log, … (the time zone and "
                                   "umask are fixed)")
    spark_driver_memory: str = _setting("2g", _jvm_memory,
                                        doc="Spark driver heap (with a local master, the executors' too)")
    topic: str = _setting("video.views.v1", str, doc="views topic")
    dlq_topic: str = _setting("video.views.v1.dlq", str, doc="dead-letter topic")
    audit_topic: str = _setting("viewcount.audit.v1", str,
                                doc="the audit ledger's anchor: every record is also kept here, never deleted, so a "
                                    "ledger rewritten in AUDIT_STORE no longer matches it (one topic per ledger)")
    topic_partitions: int = _setting("4", _positive_int, doc="partitions of the views topic")
    topic_replication: int = _setting("1", _positive_int,
                                      doc="replication factor of both topics when created (min ISR: 2 from 3 replicas)")
    topic_retention: int = _setting("30d", parse_duration_ms, duration=True,
                                    doc="retention of both topics (at least 8d)")
    max_event_age: int = _setting("7d", parse_duration_ms, duration=True, doc="rule 2")
    max_clock_skew: int = _setting("5m", parse_duration_ms, duration=True, doc="rule 2")
    min_watch_ms: int = _setting("30000", _non_negative_int, doc="rule 4")
    max_views_per_viewer_hour: int = _setting("5", _positive_int, doc="rule 5")
    admin_token: str = _setting("", _long_secret, secret=True,
                                doc=f"bearer token that reads everything, at least {MIN_ADMIN_TOKEN} characters "
                                    f"(empty: no admin)")
    api_keys_file: str = _setting("", _keys_file, doc="JSON: sha256(api key) → creator_id (may not exist yet: "
                                                      "the API follows it once `keys issue` creates it)")
    rate_card: str = _setting("", _optional_file, doc="TOML rate card for billing")
    ownership: str = _setting("first-claim", _choice("first-claim", "catalog"),
                              doc="who owns a video without a catalog entry: its first claim, or no one (CONTRACT §9)")
    collector_host: str = _setting("127.0.0.1", str, doc="address `viewcount collect` listens on")
    collector_port: int = _setting("8090", _port, doc="port `viewcount collect` listens on")
    collector_keys_file: str = _setting("", _keys_file, doc="JSON: sha256(write key) → source name (CONTRACT §8; "
                                                            "followed once it exists)")
    collector_ack_timeout: int = _setting("5s", parse_duration_ms, duration=True,
                                          doc="the collector answers 503 when the broker has not acknowledged a "
                                              "request's events by then")
    collector_body_timeout: int = _setting("10s", parse_duration_ms, duration=True,
                                           doc="the collector answers 408 when a request's body has not all arrived "
                                               "by then (a client trickling bytes holds nothing for long)")
    collector_allowed_origins: str = _setting("", str, doc="comma-separated origins allowed by CORS (browser players)")
    collector_ip_hmac_key: str = _setting("", _long_secret, secret=True,
                                          doc=f"key of the client-address HMAC the collector stamps (vc-ip-hmac), at "
                                              f"least {MIN_ADMIN_TOKEN} characters; `collect` needs it")
    serve_host: str = _setting("127.0.0.1", str, doc="address `viewcount serve` listens on")
    serve_port: int = _setting("8080", _port, doc="port `viewcount serve` listens on")
    public_url: str = _setting("", _optional_url("http", "https"),
                               doc="the API's address as its users reach it (statement download links); "
                                   "empty: http://SERVE_HOST:SERVE_PORT")
    pushgateway: str = _setting("", _optional_url("http", "https"),
                                doc="Prometheus Pushgateway the DAGs' failure callback pushes to (empty: failures "
                                    "are logged and counted in Airflow's own metrics only)")
    serve_rate_limit: int = _setting("50", _non_negative_int,
                                     doc="requests per second per creator API key, bursts of twice that, one budget for "
                                         "every API replica (kept in Redis) (0: off)")
    serve_request_timeout: int = _setting("1s", parse_duration_ms, duration=True,
                                          doc="longest the API waits for Redis before answering 503")
    state_dir: str = _setting(lambda: str(_project_root() / ".viewcount"), str,
                              doc="local stack state, logs and pid files")
    jars_dir: str = _setting(lambda: str(_project_root() / ".cache" / "jars"), str,
                             doc="JVM jars fetched by `make jars`")
    kafka_controller_port: int = _setting("19093", _port, doc="KRaft controller port of the local stack")
    kafka_cluster_port_base: int = _setting("19101", _port,
                                            doc="the local stack's Kafka cluster (`stack up --cluster`): its 3 "
                                                "brokers listen on this port and the 2 after it, their controllers "
                                                "on the 3 after those")
    redis_cluster_port_base: int = _setting("17001", _port,
                                            doc="the local stack's Redis Cluster (`stack up --cluster`): its 6 nodes "
                                                "listen on this port and the 5 after it, their cluster bus on the 6 "
                                                "after those")
    redis_tls_port: int = _setting("16380", _port,
                                   doc="TLS port of the local stack's Redis (its self-signed certificate in "
                                       "STATE_DIR/stack/redis/tls/cert.pem)")
    kafka_sasl_port: int = _setting("19094", _port,
                                    doc="SASL/PLAIN listener of the local stack (user viewcount; its password in "
                                        "STATE_DIR/stack/kafka/sasl-password)")
    hdfs_namenode: str = _setting("hdfs://127.0.0.1:19000", _url("hdfs"), doc="NameNode RPC address")
    webhdfs_url: str = _setting("http://127.0.0.1:19870", _url("http", "https"),
                                doc="NameNode HTTP address (WebHDFS)")
    hdfs_datanode_port_base: int = _setting("19864", _port,
                                            doc="local DataNode ports: http, +2 data, +3 ipc")
    spark_port_base: int = _setting("17077", _port,
                                    doc="local Spark standalone cluster ports: master, +1 its web UI, +2 worker, "
                                        "+3 its web UI")
    hdfs_user: str = _setting("viewcount", str, doc="user name for WebHDFS with HDFS_AUTH=simple")
    hdfs_auth: str = _setting("simple", _choice("simple", "kerberos", "token"),
                              doc="how WebHDFS knows who calls: simple (HDFS_USER, unproven), kerberos (SPNEGO with "
                                  "the process's Kerberos credentials: a client keytab in KRB5_CLIENT_KTNAME or a "
                                  "ticket cache), token (HDFS_DELEGATION_TOKEN); the local stack's HDFS runs "
                                  "Kerberized, with a KDC of its own, unless simple")
    hdfs_kerberos_principal: str = _setting("", str,
                                            doc="HDFS_AUTH=kerberos: the client principal to use (empty: the "
                                                "credentials' default one)")
    hdfs_delegation_token: str = _setting("", str, secret=True,
                                          doc="HDFS_AUTH=token: an HDFS delegation token, as GETDELEGATIONTOKEN "
                                              "gives it (urlString)")
    kdc_port: int = _setting("19088", _port,
                             doc="the local stack's KDC (realm VIEWCOUNT.TEST), when its HDFS runs Kerberized")
    log_level: str = _setting("INFO", _log_level, doc="logging level")
    log_format: str = _setting("text", _choice("text", "json"),
                               doc="log lines as text, or as JSON objects (time, level, logger, message, and "
                                   "topic/partition/offset where there is one)")
    redis_prefix: str = _setting("vc", _key_prefix, doc="prefix of every Redis key")
    speed_group: str = _setting("viewcount-speed", str, doc="consumer group of the speed layer")
    speed_bucket_retention: int = _setting("3d", parse_duration_ms, duration=True,
                                           doc="how long, in data time, speed buckets are kept after the published watermark passed them")
    speed_state_buckets: int = _setting("4096", lambda text: keys.check_state_buckets(int(text)),
                                        doc="hashes per kind holding the dedup and cap state: about the retained ids / 256 "
                                            "(fixed once state is written; docs/scaling.md)")
    speed_metrics_port: int = _setting("9102", _non_negative_int, doc="speed layer /metrics port (0: off)")
    batch_max_invalid_share: float = _setting("0.05", _share, doc="batch data check: most invalid records per partition")
    ingest_group: str = _setting("viewcount-raw-sink", str, doc="consumer group of the raw sink")
    ingest_flush_records: int = _setting("50000", _positive_int,
                                         doc="raw sink: flush a partition's file at this many records")
    raw_flush_bytes: int = _setting("64MiB", _byte_size,
                                    doc="raw sink: when the values it buffers, over all partitions, reach this size, "
                                        "flush the largest (with the records and age bounds: memory bounded by bytes)")
    ingest_flush_age: int = _setting("30s", parse_duration_ms, duration=True,
                                     doc="raw sink: flush a partition's file when its oldest record is this old")
    ingest_encode_threads: int = _setting("2", _positive_int,
                                          doc="raw sink: ranges encoded to Parquet at once, on threads beside the one "
                                              "reading Kafka (each waits to be committed in turn)")
    metrics_host: str = _setting("127.0.0.1", str,
                                 doc="address the raw sink's and speed layer's /metrics listen on (0.0.0.0 in containers)")
    ingest_metrics_port: int = _setting("9101", _non_negative_int, doc="raw sink /metrics port (0: off)")

    def __post_init__(self) -> None:
        if self.topic_retention < 8 * 86_400_000:
            raise SettingsError("TOPIC_RETENTION", "must be at least 8d (the rules look back 7d5m)")
        if self.topic == self.dlq_topic:
            raise SettingsError("DLQ_TOPIC", "must differ from VIEWCOUNT_TOPIC")
        if self.audit_topic in (self.topic, self.dlq_topic):
            raise SettingsError("AUDIT_TOPIC", "must differ from VIEWCOUNT_TOPIC and DLQ_TOPIC")
        if self.hdfs_auth == "token" and not self.hdfs_delegation_token:
            raise SettingsError("HDFS_DELEGATION_TOKEN", "HDFS_AUTH=token needs a delegation token")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        known = {f.name.upper() for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in environ if k.startswith(PREFIX) and k[len(PREFIX):] not in known)
        if unknown:
            raise SettingsError(unknown[0][len(PREFIX):], "unknown setting (see `viewcount config`)")
        values = {}
        for spec in dataclasses.fields(cls):
            name = spec.name.upper()
            default = spec.metadata["default"]
            raw = environ.get(PREFIX + name)
            if raw is None:
                raw = default() if callable(default) else default
            try:
                values[spec.name] = spec.metadata["parse"](raw)
            except ValueError as e:
                shown = mask_secret(raw) if spec.metadata["secret"] else raw
                raise SettingsError(name, f"{e} (got {shown!r})") from e
        return cls(**values)

    @property
    def api_url(self) -> str:
        """Where the API is reached: PUBLIC_URL, else the address it listens on."""
        return (self.public_url or f"http://{self.serve_host}:{self.serve_port}").rstrip("/")

    @property
    def rules(self) -> RuleSettings:
        return RuleSettings(
            max_event_age_ms=self.max_event_age,
            max_clock_skew_ms=self.max_clock_skew,
            min_watch_ms=self.min_watch_ms,
            max_views_per_viewer_hour=self.max_views_per_viewer_hour,
        )

    @property
    def ownership_mode(self) -> OwnershipMode:
        return OwnershipMode(self.ownership)

    def as_public_dict(self) -> dict[str, Any]:
        """The settings as `viewcount config` prints them: variable names, secrets masked."""
        out: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if spec.metadata["duration"]:
                value = format_duration_ms(value)
            elif spec.metadata["secret"]:
                value = mask_secret(value)
            out[spec.name.upper()] = value
        return out

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables, e.g. for a child process."""
        env = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            env[PREFIX + spec.name.upper()] = (
                format_duration_ms(value) if spec.metadata["duration"] else str(value)
            )
        return env

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)
