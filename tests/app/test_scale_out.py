"""Every process scales by adding copies: two collectors, two raw sinks, two speed layers and two
API workers run together on the cluster (3 Kafka brokers, a Redis Cluster of 6 nodes). Players
post to either collector; the sinks and the speed layers share the partitions of their groups;
either API worker answers every count, to the creator's own key (rate-limited: one budget in
the cluster for both). Then every event is in the raw store once, and both workers answer
exactly the events sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter

import httpx
import pytest

from app import wiring
from devtools.sandbox import free_ports, wait_for
from serving_layer.auth import key_digest
from tests.collector.test_collector import WRITE_KEY, collector_settings, view
from tests.ingestion.conftest import rows

pytestmark = pytest.mark.integration

COPIES = 2
REQUESTS, EVENTS = 20, 50       # 1,000 events
VIDEOS = 6
CREATOR = "creator_scale"
CREATOR_KEY = "vck_scale_out_creator_key"


def start(settings, instance: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, **settings.to_env(), "VIEWCOUNT_KAFKA_GROUP_INSTANCE_ID": instance,
           "VIEWCOUNT_SPEED_METRICS_PORT": "0", "VIEWCOUNT_INGEST_METRICS_PORT": "0"}
    return subprocess.Popen([sys.executable, "-m", "app", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def answers(url: str, path: str) -> bool:
    try:
        return httpx.get(url + path, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def creator_views(url: str) -> Counter:
    body = httpx.get(f"{url}/v1/creators/{CREATOR}/views", headers={"Authorization": f"Bearer {CREATOR_KEY}"},
                     timeout=10).raise_for_status().json()
    return Counter({v["video_id"]: v["views"] for v in body["videos"]})


def test_two_copies_of_every_process_on_the_cluster_count_every_event_once(kafka_cluster, redis_cluster, tmp_path):
    on_cluster = kafka_cluster.replace(redis_url=redis_cluster.redis_url)
    api_keys = tmp_path / "api-keys.json"
    api_keys.write_text(json.dumps({key_digest(CREATOR_KEY): CREATOR}))
    settings = collector_settings(on_cluster, tmp_path, ack_timeout=5000).replace(
        raw_store=(tmp_path / "raw").as_uri(), ingest_group=f"sink-{tmp_path.name}",
        api_keys_file=str(api_keys), ingest_flush_age=1000)
    collector_ports, api_ports = free_ports(COPIES), free_ports(COPIES)
    collectors = [f"http://127.0.0.1:{port}" for port in collector_ports]
    apis = [f"http://127.0.0.1:{port}" for port in api_ports]
    processes = [start(settings, f"{role}-{i}", *argv)
                 for i in range(COPIES)
                 for role, argv in (("collect", ("collect", "--port", str(collector_ports[i]))),
                                    ("serve", ("serve", "--port", str(api_ports[i]))),
                                    ("ingest", ("ingest",)), ("speed", ("speed",)))]
    admin = wiring.topic_admin(settings)
    try:
        for url in collectors:
            wait_for(lambda: answers(url, "/readyz"), 90, interval_s=0.2, what=f"the collector at {url}")
        for url in apis:
            wait_for(lambda: answers(url, "/healthz"), 90, interval_s=0.2, what=f"the API at {url}")
        for group in (settings.ingest_group, settings.speed_group):
            wait_for(lambda: admin.group_member_count(group) == COPIES, 90, interval_s=0.2,
                     what=f"{COPIES} members in {group}")

        sent = Counter()
        with httpx.Client(timeout=30) as http:
            for r in range(REQUESTS):
                events = [view(f"so{r}e{i}", f"vid_so_{(r + i) % VIDEOS}", CREATOR, viewer=f"v{r}_{i}")
                          for i in range(EVENTS)]
                answer = http.post(f"{collectors[r % COPIES]}/v1/events",
                                   content="\n".join(json.dumps(e) for e in events).encode(),
                                   headers={"Authorization": f"Bearer {WRITE_KEY}",
                                            "Content-Type": "application/x-ndjson"})
                assert answer.status_code == 202, answer.text
                sent.update(e["video_id"] for e in events)

        wait_for(lambda: creator_views(apis[0]) == sent, 120, interval_s=0.5, what="every event counted")
        assert creator_views(apis[1]) == sent
        store = wiring.raw_store(settings)
        wait_for(lambda: len(rows(store)) >= sum(sent.values()), 120, interval_s=0.5, what="every event stored")
        for group in (settings.ingest_group, settings.speed_group):
            assert admin.group_member_count(group) == COPIES      # both copies still share the work
    finally:
        admin.close()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        errors = [p.stderr.read().decode()[-1500:] for p in processes if p.wait(60) not in (0, -signal.SIGTERM)]
    assert errors == []
    stored = Counter(json.loads(r["value"])["event_id"] for r in rows(store))
    assert len(stored) == sum(sent.values()) and set(stored.values()) == {1}
