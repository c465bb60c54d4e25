"""The collector on the real broker (CONTRACT §8): write keys, the contract's statuses, what it
stamps, and a take-over attempt through it that moves nothing (§9)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from app import wiring
from serving_layer.app import create_app
from serving_layer.auth import Authenticator, key_digest
from speed_layer.metrics import SpeedMetrics
from tests.conftest import read_topic
from viewcount.timeutil import format_ms, now_ms

pytestmark = pytest.mark.integration

WRITE_KEY = "wk_player_" + "x" * 30
GOOD_KEYS_SOURCE = {hashlib.sha256(WRITE_KEY.encode()).hexdigest(): "web-player"}
HMAC_KEY = "hmac-key-of-the-collector-tests-32+"


def collector_settings(stack_settings, tmp_path, **overrides):
    """Settings for a collector on a topic of its own (3 partitions, created), with one write key
    for `web-player`, and a speed group and Redis prefix of their own."""
    name = f"collect-{uuid.uuid4().hex[:8]}"
    keys = tmp_path / "write-keys.json"
    keys.write_text(json.dumps(GOOD_KEYS_SOURCE))
    settings = stack_settings.replace(topic=name, dlq_topic=f"{name}.dlq", topic_partitions=3, redis_prefix=name,
                                      speed_group=f"{name}-speed", collector_keys_file=str(keys),
                                      collector_ip_hmac_key=HMAC_KEY, audit_store=(tmp_path / "audit").as_uri(),
                                      **{f"collector_{k}": v for k, v in overrides.items()})
    admin = wiring.topic_admin(settings)
    admin.ensure_topics(wiring.topic_specs(settings))
    admin.close()
    return settings


@pytest.fixture
def collector(stack, stack_settings, tmp_path):
    """A collector (TestClient) on a topic of its own."""
    settings = collector_settings(stack_settings, tmp_path)
    app, clients = wiring.collector_app(settings)
    with TestClient(app) as client:
        yield settings, client
    for c in clients:
        c.close()


def view(event_id: str, video: str, creator: str, viewer: str = "u1") -> dict:
    return {"event_id": event_id, "video_id": video, "creator_id": creator, "viewer_id": viewer,
            "event_time": format_ms(now_ms()), "watch_ms": 45000}


def post(client, body: bytes, content_type: str = "application/x-ndjson", key: str | None = WRITE_KEY, **kw):
    headers = {"Content-Type": content_type, "User-Agent": "TestPlayer/1.0"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.post("/v1/events", content=body, headers=headers, **kw)


def test_the_contracts_statuses_and_what_reaches_the_topic(collector):
    settings, client = collector
    good = json.dumps(view("e1", "vid_1", "c1")).encode()
    assert post(client, good, key=None).status_code == 401
    assert post(client, good, key="wrong").status_code == 401
    assert post(client, good, content_type="application/xml").status_code == 415
    assert post(client, b'{"an": "object"}', content_type="application/json").status_code == 400
    assert post(client, b"x" * (2 << 20)).status_code == 413
    assert post(client, b"\n".join([good] * 1001)).status_code == 413

    before = int(time.time() * 1000)
    other = json.dumps(view("e2", "vid_2", "c1")).encode()
    accepted = post(client, good + b"\nnot json\n" + other)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"received": 3, "invalid": [{"index": 1, "reason": "not_json"}]}
    beacon = client.post(f"/v1/events?key={WRITE_KEY}", content=good, headers={"Content-Type": "text/plain"})
    assert beacon.status_code == 202

    records = read_topic(settings, settings.topic)
    assert sorted(r.value for r in records) == sorted([good, b"not json", other, good])
    for r in records:
        headers = dict(r.headers)
        assert headers["vc-source"] == b"web-player" and headers["vc-ip-prefix"] == b"unknown"
        assert len(headers["vc-ip-hmac"]) == 32 and before - 1000 <= r.timestamp_ms <= int(time.time() * 1000)
    assert {r.key for r in records} == {b"vid_1", b"vid_2", None}
    assert client.get("/v1/schema/view-event.json").json()["required"][0] == "event_id"
    assert client.get("/readyz").status_code == 200
    assert b'viewcount_collector_requests_total{status="202"} 2.0' in client.get("/metrics").content


def test_a_take_over_through_the_collector_moves_nothing(collector):
    settings, client = collector
    first = [view(f"a{i}", "vid_victim", "creator_a", viewer=f"u{i}") for i in range(3)]
    assert post(client, json.dumps(first).encode(), content_type="application/json").status_code == 202
    forged = [{"specversion": "1.0", "id": "x", "source": "/mallory", "type": "view",
               "data": view("b1", "vid_victim", "creator_b", viewer="mallory")}]
    assert post(client, json.dumps(forged).encode(), content_type="application/cloudevents-batch+json").status_code == 202

    metrics = SpeedMetrics()
    wiring.speed_counter(settings, metrics).run(until_idle_s=1.0)
    keys = {"creator_a": "key-a", "creator_b": "key-b"}
    api = create_app(wiring.serving_reader(settings), Authenticator("admin" * 8, {key_digest(k): c for c, k in keys.items()}),
                     None, settings.topic)
    with TestClient(api) as reader:
        mine = reader.get("/v1/videos/vid_victim/views", headers={"Authorization": "Bearer key-a"})
        assert mine.status_code == 200 and mine.json()["creator_id"] == "creator_a" and mine.json()["views"] == 4
        assert reader.get("/v1/videos/vid_victim/views", headers={"Authorization": "Bearer key-b"}).status_code == 404
        listed = reader.get("/v1/creators/creator_b/views", headers={"Authorization": "Bearer key-b"}).json()
        assert listed["videos"] == []
    assert metrics.owner_mismatch._value.get() == 1
