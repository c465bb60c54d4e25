"""The services of the local stack: how each is configured, started and probed."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import urllib.request
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlsplit

from viewcount.settings import Settings
from devtools.stack.exceptions import MissingTool, StackError

JVM_HINT = "install a Java 17+ runtime (apt-get install openjdk-17-jre-headless)"
JARS_HINT = "run `make jars` (it needs mvn: apt-get install maven)"


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise MissingTool(f"java not found: {JVM_HINT}")
    return java


def _classpath(jars: Path, what: str) -> str:
    if not jars.is_dir() or not any(jars.glob("*.jar")):
        raise MissingTool(f"{what} jars not found in {jars}: {JARS_HINT}")
    return f"{jars}/*"


class Service(ABC):
    """One process of the stack. ``home`` is its folder under STATE_DIR/stack."""

    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = Path(settings.state_dir) / "stack" / self.name

    @property
    @abstractmethod
    def address(self) -> str: ...

    @abstractmethod
    def ports(self) -> list[tuple[str, int]]:
        """The loopback ports this service binds (checked before start)."""

    @abstractmethod
    def prepare(self) -> None:
        """Write configuration and do one-time initialisation (idempotent)."""

    @abstractmethod
    def argv(self) -> list[str]: ...

    @abstractmethod
    def healthy(self) -> bool: ...

    def environment(self) -> dict[str, str] | None:
        """The process's environment (None: this process's own)."""
        return None

    def start_timeout_s(self) -> float:
        return 60.0


class KafkaNode(Service):
    """A KRaft node on loopback, broker and controller in one process. Subclasses say where it
    listens, who votes in its controller quorum and how many replicas the internal topics keep."""

    host = "127.0.0.1"
    node_id = 1
    port: int
    controller_port: int
    replicas = 1
    heap = "1g"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def voters(self) -> str:
        """``controller.quorum.voters``: ``id@host:port`` of every controller."""
        return f"{self.node_id}@{self.host}:{self.controller_port}"

    def cluster_id(self) -> str:
        """The id the storage is formatted with; every node of one cluster shares it."""
        return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()

    def listeners(self) -> dict[str, int]:
        """Client listeners by name (each with a security protocol of the same name)."""
        return {"PLAINTEXT": self.port}

    def more_properties(self) -> list[str]:
        return []

    def prepare(self) -> None:
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        listeners = {**self.listeners(), "CONTROLLER": self.controller_port}
        min_isr = 2 if self.replicas >= 3 else 1
        (self.home / "server.properties").write_text("\n".join([
            "process.roles=broker,controller",
            f"node.id={self.node_id}",
            f"controller.quorum.voters={self.voters()}",
            "listeners=" + ",".join(f"{name}://{self.host}:{port}" for name, port in listeners.items()),
            "advertised.listeners=" + ",".join(f"{name}://{self.host}:{port}"
                                               for name, port in self.listeners().items()),
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=" + ",".join(f"{name}:{'PLAINTEXT' if name == 'CONTROLLER' else name}"
                                                        for name in listeners),
            f"log.dirs={data}",
            "num.partitions=1",
            "auto.create.topics.enable=false",
            f"default.replication.factor={self.replicas}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={self.replicas}",
            "offsets.topic.num.partitions=4",
            f"transaction.state.log.replication.factor={self.replicas}",
            f"transaction.state.log.min.isr={min_isr}",
            "transaction.state.log.num.partitions=4",
            f"share.coordinator.state.topic.replication.factor={self.replicas}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            "group.initial.rebalance.delay.ms=0",
            *self.more_properties(),
            "",
        ]))
        (self.home / "log4j2.properties").write_text("\n".join([
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.stdout.ref = STDOUT",
            "appender.stdout.type = Console",
            "appender.stdout.name = STDOUT",
            "appender.stdout.layout.type = PatternLayout",
            "appender.stdout.layout.pattern = [%d] %p %m (%c)%n",
            "logger.apache.name = org.apache",
            "logger.apache.level = WARN",
            "",
        ]))
        if not (data / "meta.properties").exists():
            self._format()

    def _jvm(self) -> list[str]:
        return [
            _java(), "-Xms256m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp", _classpath(Path(self.settings.jars_dir) / "kafka", "Kafka"),
        ]

    def _format(self) -> None:
        import subprocess

        done = subprocess.run(
            # `=` form: a cluster id may begin with '-', which would read as an option.
            [*self._jvm(), "kafka.tools.StorageTool", "format", f"--cluster-id={self.cluster_id()}",
             "-c", str(self.home / "server.properties")],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def argv(self) -> list[str]:
        return [*self._jvm(), "kafka.Kafka", str(self.home / "server.properties")]


class KafkaService(KafkaNode):
    """The one broker of the local stack, with a SASL/PLAIN listener beside the plain one."""

    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        first = settings.kafka_bootstrap.split(",")[0]
        host, _, port = first.rpartition(":")
        if "," in settings.kafka_bootstrap or host not in ("127.0.0.1", "localhost"):
            raise StackError("the local stack runs one broker on loopback: set "
                             "VIEWCOUNT_KAFKA_BOOTSTRAP to 127.0.0.1:PORT (`stack up --cluster` runs three)")
        self.port = int(port)
        self.controller_port = settings.kafka_controller_port
        self.sasl_port = settings.kafka_sasl_port

    @property
    def sasl_address(self) -> str:
        """The SASL/PLAIN listener: user ``viewcount``, password :meth:`sasl_password`."""
        return f"{self.host}:{self.sasl_port}"

    def sasl_password(self) -> str:
        return (self.home / "sasl-password").read_text().strip()

    def ports(self) -> list[tuple[str, int]]:
        return [(self.host, self.port), (self.host, self.controller_port), (self.host, self.sasl_port)]

    def listeners(self) -> dict[str, int]:
        # a SASL/PLAIN listener beside the plain one, so clients' SASL settings are tested for real
        return {"PLAINTEXT": self.port, "SASL_PLAINTEXT": self.sasl_port}

    def more_properties(self) -> list[str]:
        plain = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
                 f'user_viewcount="{self.sasl_password()}";')
        return ["listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN",
                f"listener.name.sasl_plaintext.plain.sasl.jaas.config={plain}"]

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        password_file = self.home / "sasl-password"
        if not password_file.exists():
            import secrets

            password_file.write_text(secrets.token_urlsafe(24) + "\n")
            password_file.chmod(0o600)
        super().prepare()

    def healthy(self) -> bool:
        return _port_open(self.host, self.port) and broker_count(self.address) >= 1


def broker_count(bootstrap: str) -> int:
    """A metadata round trip to the brokers at ``bootstrap``: how many unfenced ones they report."""
    from adapters.kafka.kafka_python import KafkaPythonAdmin, KafkaPythonConfig

    admin = KafkaPythonAdmin(KafkaPythonConfig(bootstrap, request_timeout_ms=2000))
    try:
        return admin.broker_count()
    finally:
        admin.close()


class RedisServer(Service):
    """A ``redis-server`` on loopback at ``host``:``port`` (set by the subclass), with the
    persistence a deployment uses."""

    host: str
    port: int

    @property
    def address(self) -> str:
        return f"redis://{self.host}:{self.port}"

    def prepare(self) -> None:
        if shutil.which("redis-server") is None:
            raise MissingTool("redis-server not found: apt-get install redis-server")
        (self.home / "data").mkdir(parents=True, exist_ok=True)

    def server_argv(self) -> list[str]:
        """Loopback only, its data folder, the AOF fsynced every second, no RDB snapshots."""
        return [
            shutil.which("redis-server") or "redis-server",
            "--bind", self.host, "--port", str(self.port), "--protected-mode", "yes",
            "--dir", str(self.home / "data"), "--daemonize", "no",
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        ]

    def healthy(self) -> bool:
        import redis

        client = redis.Redis(host=self.host, port=self.port, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()


class RedisService(RedisServer):
    name = "redis"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        url = urlsplit(settings.redis_url)
        if url.hostname not in ("127.0.0.1", "localhost"):
            raise StackError("the local stack runs Redis on loopback: set VIEWCOUNT_REDIS_URL "
                             "to redis://127.0.0.1:PORT/0")
        self.host, self.port = "127.0.0.1", url.port or 6379
        self.tls_port = settings.redis_tls_port
        self.certificate = self.home / "tls" / "cert.pem"

    @property
    def tls_address(self) -> str:
        """The TLS port, as a ``rediss://`` URL that trusts the stack's own certificate."""
        return f"rediss://{self.host}:{self.tls_port}/0?ssl_ca_certs={self.certificate}"

    def ports(self) -> list[tuple[str, int]]:
        return [(self.host, self.port), (self.host, self.tls_port)]

    def prepare(self) -> None:
        super().prepare()
        if not self.certificate.exists():
            self._make_certificate()

    def _make_certificate(self) -> None:
        """A self-signed certificate for 127.0.0.1, so clients' TLS settings are tested for real."""
        import subprocess

        if shutil.which("openssl") is None:
            raise MissingTool("openssl not found: apt-get install openssl")
        self.certificate.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                               "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                               "-keyout", str(self.certificate.with_name("key.pem")), "-out", str(self.certificate)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"making the Redis TLS certificate failed: {done.stderr[-500:]}")
        self.certificate.with_name("key.pem").chmod(0o600)

    def argv(self) -> list[str]:
        return self.server_argv() + [
            # a TLS port beside the plain one (server authentication only, like a managed Redis)
            "--tls-port", str(self.tls_port), "--tls-cert-file", str(self.certificate),
            "--tls-key-file", str(self.certificate.with_name("key.pem")),
            "--tls-ca-cert-file", str(self.certificate), "--tls-auth-clients", "no",
        ]


class _HadoopService(Service):
    """Shared configuration of the NameNode and DataNode (one conf folder for both)."""

    main_class: str

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.hdfs_home = Path(settings.state_dir) / "stack" / "hdfs"
        namenode = urlsplit(settings.hdfs_namenode)
        web = urlsplit(settings.webhdfs_url)
        self.rpc_port = namenode.port or 8020
        self.http_port = web.port or 9870
        self.dn_base = settings.hdfs_datanode_port_base
        self.kerberized = settings.hdfs_auth != "simple"    # then with the KDC of devtools.stack.kerberos

    def _write_conf(self) -> Path:
        conf = self.hdfs_home / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        core = {"fs.defaultFS": f"hdfs://127.0.0.1:{self.rpc_port}",
                "hadoop.tmp.dir": str(self.hdfs_home / "tmp")}
        hdfs = {
            "dfs.replication": "1",
            "dfs.namenode.name.dir": str(self.hdfs_home / "name"),
            "dfs.datanode.data.dir": str(self.hdfs_home / "data"),
            "dfs.webhdfs.enabled": "true",
            "dfs.permissions.enabled": "false",
            "dfs.namenode.rpc-address": f"127.0.0.1:{self.rpc_port}",
            "dfs.namenode.http-address": f"127.0.0.1:{self.http_port}",
            "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            "dfs.datanode.hostname": "127.0.0.1",
            "dfs.datanode.http.address": f"127.0.0.1:{self.dn_base}",
            "dfs.datanode.address": f"127.0.0.1:{self.dn_base + 2}",
            "dfs.datanode.ipc.address": f"127.0.0.1:{self.dn_base + 3}",
            "dfs.namenode.safemode.extension": "0",
            "dfs.namenode.safemode.min.datanodes": "0",
            "dfs.heartbeat.interval": "1",
            "dfs.blocksize": "33554432",
        }
        if self.kerberized:
            from devtools.stack.kerberos import hadoop_security   # that module builds on this one

            secure_core, secure_hdfs = hadoop_security(self.settings)
            core.update(secure_core)
            hdfs.update(secure_hdfs)
        for name, props in (("core-site.xml", core), ("hdfs-site.xml", hdfs)):
            body = "".join(f"  <property><name>{k}</name><value>{v}</value></property>\n"
                           for k, v in props.items())
            (conf / name).write_text(f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n')
        # The HTTP servers look their web apps up on the class path; the jars on Maven Central do
        # not ship them (the tarball does). WebHDFS and JMX need only the folders to exist.
        for app in ("hdfs", "datanode", "static"):
            (conf / "webapps" / app).mkdir(parents=True, exist_ok=True)
            (conf / "webapps" / app / "index.html").write_text(f"<html><body>viewcount {app}</body></html>\n")
        (conf / "log4j.properties").write_text(
            "log4j.rootLogger=WARN,console\n"
            "log4j.logger.org.apache.hadoop.hdfs.server=INFO\n"
            "log4j.appender.console=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.console.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.console.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        )
        return conf

    def _jvm(self, conf: Path) -> list[str]:
        from devtools.stack.kerberos import krb5_conf

        jars = _classpath(Path(self.settings.jars_dir) / "hadoop", "Hadoop")
        return [
            _java(), "-Xms128m", "-Xmx512m", "-Djava.awt.headless=true",
            f"-Dhadoop.log.dir={self.hdfs_home / 'logs'}", f"-Dhadoop.home.dir={self.hdfs_home}",
            "-Djava.net.preferIPv4Stack=true",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.net=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            *([f"-Djava.security.krb5.conf={krb5_conf(self.settings)}"] if self.kerberized else []),
            "-cp", f"{conf}:{jars}",
        ]

    def argv(self) -> list[str]:
        return [*self._jvm(self.hdfs_home / "conf"), self.main_class]

    def _jmx(self, query: str) -> dict:
        url = f"http://127.0.0.1:{self.http_port}/jmx?qry={query}"
        if self.kerberized:
            from devtools.stack.kerberos import negotiated_get

            beans = json.loads(negotiated_get(self.settings, url, timeout_s=2))["beans"]
        else:
            with urllib.request.urlopen(url, timeout=2) as answer:
                beans = json.load(answer)["beans"]
        return beans[0] if beans else {}


class NameNodeService(_HadoopService):
    name = "namenode"
    main_class = "org.apache.hadoop.hdfs.server.namenode.NameNode"

    @property
    def address(self) -> str:
        return f"hdfs://127.0.0.1:{self.rpc_port} (WebHDFS http://127.0.0.1:{self.http_port})"

    def ports(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", self.rpc_port), ("127.0.0.1", self.http_port)]

    def prepare(self) -> None:
        import subprocess

        conf = self._write_conf()
        if (self.hdfs_home / "name" / "current" / "VERSION").exists():
            return
        done = subprocess.run([*self._jvm(conf), self.main_class, "-format", "-nonInteractive",
                               "-force"], capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"formatting the NameNode failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def healthy(self) -> bool:
        info = self._jmx("Hadoop:service=NameNode,name=NameNodeInfo")
        return bool(info) and info.get("Safemode", "") == ""


class DataNodeService(_HadoopService):
    name = "datanode"
    main_class = "org.apache.hadoop.hdfs.server.datanode.DataNode"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.dn_base + 2} (http 127.0.0.1:{self.dn_base})"

    def ports(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", self.dn_base + i) for i in (0, 2, 3)]

    def prepare(self) -> None:
        self._write_conf()

    def healthy(self) -> bool:
        state = self._jmx("Hadoop:service=NameNode,name=FSNamesystemState")
        return int(state.get("NumLiveDataNodes", 0)) >= 1
