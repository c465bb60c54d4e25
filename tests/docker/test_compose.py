"""The container deliverables, checked statically (no Docker engine here): the compose file, the
application image, Prometheus and Grafana."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from collector.app import CollectorMetrics
from ingestion.metrics import SinkMetrics
from serving_layer.metrics import ServeMetrics
from speed_layer.metrics import SpeedMetrics
from viewcount.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ONE_SHOT = {"topics-init", "airflow-init"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_the_cluster_has_every_component(services):
    assert {"kafka", "kafka-2", "kafka-3", "redis", "namenode", "datanode", "spark-master", "spark-worker",
            "postgres", "airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "prometheus", "pushgateway", "grafana", "collector", "topics-init", "raw-sink", "speed", "api"} <= set(services)


def test_every_image_is_pinned(services):
    for name, service in services.items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_every_long_running_service_has_a_health_check_and_one_shots_do_not_restart(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
        else:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
            assert service["restart"] == "unless-stopped", name


def test_dependencies_wait_on_conditions(services):
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            expected = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert spec == {"condition": expected}, f"{name} → {dep}: {spec}"


def test_host_ports_are_unique(services):
    published = [str(p).split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), published


def test_every_app_variable_is_a_known_setting(services):
    known = {f"VIEWCOUNT_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    used = {k for s in services.values() for k in (s.get("environment") or {}) if k.startswith("VIEWCOUNT_")}
    env_file = {line.split("=", 1)[0] for line in (ROOT / "docker/kafka3.env").read_text().splitlines()
                if line and not line.startswith("#")}
    assert used and used <= known, used - known
    assert {k for k in env_file if k.startswith("VIEWCOUNT_")} <= known


def test_named_volumes_are_declared(compose, services):
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert named <= set(compose["volumes"]), named - set(compose["volumes"])
    mounted = {v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if v.startswith(".")}
    assert all((ROOT / m).exists() for m in mounted), mounted


def test_three_brokers_profile_is_consistent(services):
    env = dict(line.split("=", 1) for line in (ROOT / "docker/kafka3.env").read_text().splitlines()
               if line and not line.startswith("#"))
    assert env["COMPOSE_PROFILES"] == "kafka3" and env["KAFKA_REPLICATION"] == "3" and env["KAFKA_MIN_ISR"] == "2"
    voters = dict(v.split("@") for v in env["KAFKA_VOTERS"].split(","))
    for node, address in voters.items():
        host = address.split(":")[0]
        assert services[host]["environment"]["KAFKA_NODE_ID"] == node
    assert sorted(h.split(":")[0] for h in env["VIEWCOUNT_KAFKA_BOOTSTRAP"].split(",")) == ["kafka", "kafka-2", "kafka-3"]
    assert {services["kafka-2"]["profiles"][0], services["kafka-3"]["profiles"][0]} == {"kafka3"}


def test_spark_cluster_runs_the_apps_spark_version(services):
    import pyspark

    for name in ("spark-master", "spark-worker"):
        assert services[name]["image"].split(":")[1].startswith(pyspark.__version__ + "-"), name


def test_every_prometheus_target_is_a_compose_service_and_port(services):
    config = yaml.safe_load((ROOT / "docker/prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    for job in config["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            host, port = target.split(":")
            assert host in services, f"{job['job_name']}: {host} is not a service"
            env = services[host].get("environment") or {}
            command = " ".join(services[host].get("command") or [])
            assert port in (env.get("VIEWCOUNT_INGEST_METRICS_PORT"), env.get("VIEWCOUNT_SPEED_METRICS_PORT"),
                            "9090", "9091") or f"--port {port}" in command, target


def _metric_names() -> set[str]:
    names = set()
    for metrics in (SinkMetrics(), SpeedMetrics(), ServeMetrics(), CollectorMetrics()):
        for collector in metrics.registry.collect():
            names.add(collector.name)
    return names


def _referenced(text: str) -> set[str]:
    return {re.sub(r"_(bucket|count|sum|total)$", "", m) for m in re.findall(r"viewcount_[a-z_]+", text)}


def test_alerts_and_dashboard_use_only_metrics_the_processes_export():
    from app.dag_support import FAILURE_GAUGE
    from app.reconcile import DIFFERENCES_GAUGE

    exported = {re.sub(r"_total$", "", n) for n in _metric_names()} | {FAILURE_GAUGE, DIFFERENCES_GAUGE}
    alerts = yaml.safe_load((ROOT / "docker/prometheus/alerts.yml").read_text())
    rules = alerts["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"ViewcountConsumerLagHigh", "ViewcountSpeedFreshnessStale", "ViewcountBatchTooOld",
            "ViewcountDeadLettersRising", "ViewcountApiErrors", "ViewcountDagTaskFailed",
            "ViewcountCollectorUnavailable", "ViewcountCollectorAckSlow"} <= names
    runbook = (ROOT / "docs/runbook.md").read_text().lower()
    for rule in rules:
        assert _referenced(rule["expr"]) <= exported, rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert f"## {anchor.replace('-', ' ')}" in runbook, f"{rule['alert']}: no runbook section {anchor}"
    dashboard = json.loads((ROOT / "docker/grafana/dashboards/viewcount.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert _referenced(" ".join(exprs)) <= exported
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("outcome", "lag", "freshness", "dedup", "latency", "batch"):
        assert topic in titles, topic


def test_the_app_image_is_multi_stage_pinned_and_unprivileged():
    dockerfile = (ROOT / "docker/app/Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert len(bases) == 2 and all(re.search(r":\d", b) for b in bases), bases
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    for path in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M):
        assert (ROOT / path).exists(), path


def test_the_file_follows_the_compose_specification(compose):
    import jsonschema

    schema = json.loads((ROOT / "tests/docker/schema/compose_spec.json").read_text())
    schema["properties"]["name"] = {"type": "string"}   # added to the specification after this copy
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft201909Validator(schema).iter_errors(compose)]
    assert errors == []


def test_required_secrets_stop_compose_before_anything_starts():
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("VIEWCOUNT_ADMIN_TOKEN", "VIEWCOUNT_COLLECTOR_IP_HMAC_KEY"):
        assert re.search(r"\$\{" + secret + r":\?[^}]+\}", text), secret


def test_health_checks_probe_the_address_the_service_binds(services):
    master = services["spark-master"]
    bound = master["command"][master["command"].index("--host") + 1]
    assert master["hostname"] == bound and f"/dev/tcp/{bound}/7077" in master["healthcheck"]["test"][1]
    for name, port in (("api", "8080"), ("collector", "8090")):
        command = " ".join(services[name]["command"])
        assert "--host 0.0.0.0" in command and f"--port {port}" in command
        assert f"localhost:{port}/" in services[name]["healthcheck"]["test"][1]


def test_the_api_and_the_collector_keep_their_keys_in_a_volume(compose, services):
    for name, setting in (("api", "VIEWCOUNT_API_KEYS_FILE"), ("collector", "VIEWCOUNT_COLLECTOR_KEYS_FILE")):
        path = services[name]["environment"][setting]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services[name]["volumes"]}
        assert mounts.get(str(Path(path).parent)) == "keys" and "keys" in compose["volumes"], name
    for name, service in services.items():   # the keys file settings are checked at start: only where mounted
        env = service.get("environment") or {}
        if name not in ("api", "collector"):
            assert "VIEWCOUNT_API_KEYS_FILE" not in env and "VIEWCOUNT_COLLECTOR_KEYS_FILE" not in env, name


def test_every_viewcount_and_airflow_command_line_parses(services):
    """The services' command lines, parsed by the real parsers: a typo fails here, not at deploy."""
    import shlex

    from app.cli import build_parser

    parser = build_parser()
    checked = set()
    for name, service in services.items():
        command = service.get("command") or []
        if command[:2] == ["sh", "-c"]:
            command = shlex.split(command[2].rsplit("exec ", 1)[1])
        if command[:1] == ["viewcount"]:
            parser.parse_args(command[1:])
            checked.add(name)
    assert {"api", "collector", "raw-sink", "speed", "topics-init"} <= checked
    airflow = [s["command"] for s in services.values() if (s.get("command") or [None])[0] == "airflow"]
    assert len(airflow) >= 5
    from airflow.cli.cli_parser import get_parser

    airflow_parser = get_parser()
    for command in airflow:
        airflow_parser.parse_args(command[1:])


def test_java_home_does_not_depend_on_the_architecture():
    dockerfile = (ROOT / "docker/app/Dockerfile").read_text()
    java_home = re.search(r"JAVA_HOME=(\S+)", dockerfile).group(1)
    assert not re.search(r"amd64|arm64|aarch64|x86_64", java_home)
    assert "dpkg --print-architecture" in dockerfile and java_home in dockerfile.split("ENV JAVA_HOME")[0]


def test_airflow_runs_the_tested_airflow_and_both_images_install_the_tested_versions(services):
    from importlib.metadata import version

    dockerfile = (ROOT / "docker/airflow/Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == [f"apache/airflow:{version('apache-airflow')}-python3.11"]
    assert "--constraint /opt/viewcount/src/docker/constraints.txt" in dockerfile
    assert "--constraint constraints.txt" in (ROOT / "docker/app/Dockerfile").read_text()
    pins = dict(line.split("==", 1) for line in (ROOT / "docker/constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for package in ("apache-airflow", "pyspark", "confluent-kafka", "fastapi", "pyarrow", "redis"):
        assert pins.get(package) == version(package), package
    airflow = {name for name, s in services.items() if (s.get("command") or [""])[0] == "airflow"}
    assert airflow and all(services[name]["image"] == "viewcount-airflow:0.1.0" for name in airflow)
    for path in re.findall(r"^COPY (?:--chown=\S+ )?(\S+)", dockerfile, re.M):
        assert (ROOT / path).exists(), path
