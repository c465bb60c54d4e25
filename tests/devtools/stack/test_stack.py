"""The local stack: real processes, idempotent start, honest status, careful stop."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from app.cli import main
from devtools.stack.exceptions import MissingTool
from devtools.stack.manager import CORE, HDFS, Stack
from devtools.stack.process import ManagedProcess
from devtools.sandbox import settings_for

pytestmark = pytest.mark.integration


def test_up_twice_is_harmless(stack):
    before = {s.name: s.pid for s in stack.status(CORE)}
    lines = []
    stack.up(CORE, progress=lines.append)
    after = stack.status(CORE)
    assert {s.name: s.pid for s in after} == before
    assert all(s.healthy for s in after)
    assert all("already running" in line for line in lines)


def test_status_reports_a_stopped_service(tmp_path):
    own = Stack(settings_for(tmp_path))
    own.up(("redis",), progress=lambda line: None)
    try:
        [redis] = own.status(("redis",))
        assert redis.running and redis.healthy and redis.pid
        own.down(("redis",), progress=lambda line: None)
        [redis] = own.status(("redis",))
        assert (redis.running, redis.healthy, redis.pid) == (False, False, None)
        aof = tmp_path / "stack" / "redis" / "data" / "appendonlydir"
        assert aof.is_dir() and any(aof.iterdir())
    finally:
        own.down(("redis",), progress=lambda line: None)


@pytest.mark.parametrize("hdfs_auth, kdc", [("simple", False), ("kerberos", True)])
def test_status_command_shows_each_service_and_fails_when_one_is_down(tmp_path, monkeypatch, capsys, hdfs_auth, kdc):
    settings = settings_for(tmp_path, hdfs_auth=hdfs_auth)
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    assert main(["stack", "status"]) == 3
    out = capsys.readouterr().out
    for name in ("kafka", "redis", "namenode", "datanode", "spark-master", "spark-worker"):
        assert name in out
    assert ("kdc " in out) == kdc       # the KDC only where HDFS runs Kerberized
    assert out.count("stopped") == 6 + kdc
    assert settings.kafka_bootstrap in out


def test_down_never_stops_a_process_it_did_not_start(tmp_path):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        own = Stack(settings_for(tmp_path))
        pid_file = own.process("redis").pid_file
        pid_file.parent.mkdir(parents=True)
        # A stale pid file naming a live process that is not ours (another start time).
        pid_file.write_text(json.dumps({"pid": stranger.pid, "start_ticks": 1}))
        own.down(("redis",), progress=lambda line: None)
        assert stranger.poll() is None
        assert not pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_missing_jars_name_the_fix(tmp_path):
    settings = settings_for(tmp_path, jars_dir=str(tmp_path / "no-jars"))
    with pytest.raises(MissingTool, match="make jars"):
        Stack(settings).up(("kafka",), progress=lambda line: None)


def test_missing_redis_server_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingTool, match="apt-get install redis-server"):
        Stack(settings_for(tmp_path)).up(("redis",), progress=lambda line: None)


def test_a_service_that_dies_at_start_fails_with_its_log_tail(tmp_path):
    from devtools.stack.exceptions import ServiceFailed

    own = Stack(settings_for(tmp_path))
    own.service("redis").argv = lambda: ["redis-server", "--no-such-option", "1"]
    with pytest.raises(ServiceFailed, match="(?s)exited.*no-such-option"):
        own.up(("redis",), progress=lambda line: None)


def test_managed_process_stop_escalates_to_kill(tmp_path):
    proc = ManagedProcess("stubborn", tmp_path / "p.pid", tmp_path / "p.log")
    proc.start([sys.executable, "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"],
               cwd=tmp_path)
    from devtools.sandbox import wait_for
    wait_for(lambda: "up" in proc.log_tail(), 10, what="the child to start")
    assert proc.stop(timeout_s=0.5)
    assert not proc.alive()


@pytest.mark.hdfs
def test_hdfs_comes_up_with_webhdfs(hdfs, stack_settings):
    assert all(s.healthy for s in hdfs.status(HDFS))
    from hdfs import InsecureClient

    client = InsecureClient(stack_settings.webhdfs_url, user=stack_settings.hdfs_user)
    path = f"/tests/stack-{os.getpid()}/hello.bin"
    client.write(path, data=b"\x00hello\xff", overwrite=True)
    with client.read(path) as reader:
        assert reader.read() == b"\x00hello\xff"
    with urllib.request.urlopen(f"{stack_settings.webhdfs_url}/webhdfs/v1/?op=GETFILESTATUS") as r:
        assert json.load(r)["FileStatus"]["type"] == "DIRECTORY"


def test_the_spark_cluster_comes_up_with_its_worker_registered(spark_cluster, stack_settings, monkeypatch, capsys):
    from devtools.stack.spark import LOOPBACK

    assert spark_cluster == f"spark://{LOOPBACK}:{stack_settings.spark_port_base}"
    for key, value in stack_settings.to_env().items():
        monkeypatch.setenv(key, value)
    assert main(["stack", "status", "--spark"]) == 0      # kafka, redis and both Spark daemons healthy
    out = capsys.readouterr().out
    assert re.search(r"^spark-worker +healthy ", out, re.MULTILINE), out


def test_the_kafka_cluster_keeps_three_replicas_of_every_topic(kafka_cluster, stack):
    from app import wiring
    from devtools.stack.kafka_cluster import KAFKA_NODES

    lines = []
    stack.up(KAFKA_NODES, progress=lines.append)      # a second time: nothing restarted
    assert all("already running" in line for line in lines[:-1]) and "formed" in lines[-1]
    assert all(s.healthy for s in stack.status(KAFKA_NODES))
    settings = kafka_cluster.replace(topic=f"replicated-{os.getpid()}", dlq_topic=f"replicated-{os.getpid()}.dlq")
    admin = wiring.topic_admin(settings)
    try:
        admin.ensure_topics(wiring.topic_specs(settings)[:1])
        assert admin.topic_configs(settings.topic)["min.insync.replicas"] == "2"
    finally:
        admin.close()
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).list_topics(settings.topic, timeout=10)
    assert len(metadata.brokers) == 3
    assert {len(p.replicas) for p in metadata.topics[settings.topic].partitions.values()} == {3}
