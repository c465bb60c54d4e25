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

    exported = {re.sub(r"_total$", "", n) for n in _metric_names()} | {FAILURE_GAUGE}
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
