"""The JVM services' compose command lines, run outside containers where the binaries exist here:
the Spark master and worker with pyspark's own `spark-class`, the HDFS commands as the Hadoop
main classes the test stack runs, the Kafka broker from its service's environment, as the
apache/kafka image turns it into server.properties, and the Redis server's command. A wrong class
name, argument or missing setting fails `make test`, not a deploy."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from devtools.sandbox import free_ports, wait_for
from devtools.stack.services import DataNodeService, NameNodeService

ROOT = Path(__file__).resolve().parents[2]
# what `hdfs <subcommand>` runs (Hadoop's bin/hdfs)
HDFS_SUBCOMMANDS = {"namenode": NameNodeService.main_class, "datanode": DataNodeService.main_class}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_spark_master_and_worker_commands_form_a_cluster(services, tmp_path):
    master_cmd, worker_cmd = services["spark-master"]["command"], services["spark-worker"]["command"]
    assert master_cmd[0] == worker_cmd[0] == "/opt/spark/bin/spark-class"
    port, ui, worker_ui = free_ports(3)
    # The compose arguments as they are, the host name replaced by loopback and the ports by free
    # ones (a machine running tests may already use 7077 and 8080).
    master = [str(spark_class()), *master_cmd[1:], "--port", str(port), "--webui-port", str(ui)]
    master[master.index("--host") + 1] = "127.0.0.1"
    worker = [str(spark_class()), *(a.replace("spark-master:7077", f"127.0.0.1:{port}") for a in worker_cmd[1:]),
              "--webui-port", str(worker_ui)]
    env = {**os.environ, **services["spark-worker"]["environment"], "SPARK_LOG_DIR": str(tmp_path),
           "SPARK_WORKER_DIR": str(tmp_path / "work"), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARK_HOME", None)
    processes = []
    try:
        log = (tmp_path / "master.log").open("w")
        processes.append(subprocess.Popen(master, env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_for(lambda: listening(port), 90, what=f"the master on {port} ({shlex.join(master)})")  # its health check
        log = (tmp_path / "worker.log").open("w")
        processes.append(subprocess.Popen(worker, env=env, stdout=log, stderr=subprocess.STDOUT))

        def registered() -> dict | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5) as answer:
                    body = answer.read()
            except OSError:   # the web UI starts a moment after the RPC port
                return None
            if not body.lstrip().startswith(b"{"):   # an empty page until the master is elected leader
                return None
            state = json.loads(body)
            return state if state["aliveworkers"] == 1 else None

        state = wait_for(registered, 90, what="the worker to register with the master")
        assert state["status"] == "ALIVE" and state["url"] == f"spark://127.0.0.1:{port}"
        cores = int(services["spark-worker"]["environment"]["SPARK_WORKER_CORES"])
        assert state["workers"][0]["cores"] == cores and state["workers"][0]["memory"] == 4096
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(30)


def test_the_hdfs_commands_run_the_main_classes_the_test_stack_runs(services):
    namenode = services["namenode"]["command"]
    assert namenode[:2] == ["/bin/bash", "-c"]
    format_part, run_part = namenode[2].split("||", 1)[1].split(";")
    format_argv, run_argv = shlex.split(format_part), shlex.split(run_part.replace("exec ", ""))
    datanode = services["datanode"]["command"]
    for argv in (format_argv, run_argv, datanode):
        assert argv[0] == "hdfs" and argv[1] in HDFS_SUBCOMMANDS, argv
    # The stack formats with the same arguments and runs the same classes in every HDFS test.
    assert format_argv[2:] == ["-format", "-nonInteractive"] and len(run_argv) == 2 and len(datanode) == 2
    source = (ROOT / "devtools/stack/services.py").read_text()
    assert '"-format", "-nonInteractive"' in source
    assert HDFS_SUBCOMMANDS == {"namenode": "org.apache.hadoop.hdfs.server.namenode.NameNode",
                                "datanode": "org.apache.hadoop.hdfs.server.datanode.DataNode"}


def image_properties(environment: dict[str, str]) -> dict[str, str]:
    """What the apache/kafka image writes to server.properties from a container's environment:
    each KAFKA_ variable, the prefix dropped, lower-cased, ``___`` read as ``_``, ``__`` as ``-``
    and ``_`` as ``.``. Given any such variable, the image writes those alone (no defaults)."""
    out = {}
    for name, value in environment.items():
        if name.startswith("KAFKA_"):
            key = name[len("KAFKA_"):].lower().replace("___", "\0").replace("__", "-").replace("_", ".")
            out[key.replace("\0", "_")] = value
    return out


def compose_default(value: str) -> str:
    """``${NAME:-default}`` as compose reads it with NAME unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def test_the_kafka_service_environment_starts_a_broker_that_serves_both_listeners(services, tmp_path):
    from adapters.kafka.kafka_python import KafkaPythonAdmin, KafkaPythonConfig
    from devtools.stack.services import _classpath, _java

    environment = {k: compose_default(str(v)) for k, v in services["kafka"]["environment"].items()}
    properties = image_properties(environment)
    # The compose network's names and ports, replaced by loopback and free ports.
    ports = dict(zip(("9092", "19092", "9093"), map(str, free_ports(3))))
    for key in ("listeners", "advertised.listeners", "controller.quorum.voters"):
        properties[key] = re.sub(r"(//|@)([\w.-]*):(\d+)", lambda m: f"{m[1]}127.0.0.1:{ports[m[3]]}", properties[key])
    properties["log.dirs"] = str(tmp_path / "data")
    (tmp_path / "server.properties").write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    jvm = [_java(), "-Xmx512m", "-cp", _classpath(ROOT / ".cache/jars/kafka", "Kafka")]
    formatted = subprocess.run([*jvm, "kafka.tools.StorageTool", "format", f"--cluster-id={environment['CLUSTER_ID']}",
                                "-c", str(tmp_path / "server.properties")], capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    log = (tmp_path / "kafka.log").open("w")
    broker = subprocess.Popen([*jvm, "kafka.Kafka", str(tmp_path / "server.properties")], stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        for listener in ("9092", "19092"):     # INTERNAL, what the services use; EXTERNAL, the host's
            address = f"127.0.0.1:{ports[listener]}"

            def serving() -> bool:
                if broker.poll() is not None:
                    raise AssertionError(f"the broker exited: {(tmp_path / 'kafka.log').read_text()[-3000:]}")
                if not listening(int(ports[listener])):
                    return False
                admin = KafkaPythonAdmin(KafkaPythonConfig(address, request_timeout_ms=2000))
                try:
                    return admin.broker_count() == 1
                finally:
                    admin.close()

            wait_for(serving, 90, what=f"the broker to serve {address}")
    finally:
        broker.terminate()
        broker.wait(30)


def test_the_redis_command_runs_a_server_the_layers_accept(services, tmp_path):
    import redis

    from adapters.redis.connection import RedisConfig, RedisConnection

    command = services["redis"]["command"]
    assert command[0] == "redis-server"
    [port] = free_ports(1)
    # The compose arguments as they are, on a free loopback port and in a folder of the test's.
    server = subprocess.Popen([*command, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port)
    try:
        wait_for(lambda: listening(port), 30, what=f"redis-server on {port}")
        assert client.ping()
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        # what the speed layer and the API check before they start
        RedisConnection(RedisConfig(url=f"redis://127.0.0.1:{port}/0"), client).require_no_eviction("the test")
    finally:
        client.close()
        server.terminate()
        server.wait(30)
