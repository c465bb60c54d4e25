"""Nothing the collector acknowledged is lost (CONTRACT §8), on the real stack: players post
under load while the broker is stopped for 10 s and brought back, and while the collector
process is killed with SIGKILL and started again. Players resend a request that was not
answered 202 (503, or a connection that died) with the same body.

Then: every event of every request is in the raw store; an event is there more than once only if
a request carrying it was sent more than once; and the speed layer counts each event once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi.testclient import TestClient

from app import wiring
from devtools.sandbox import free_ports, wait_for
from ingestion.metrics import SinkMetrics
from serving_layer.app import create_app
from serving_layer.auth import Authenticator, key_digest
from speed_layer.metrics import SpeedMetrics
from tests.collector.test_collector import WRITE_KEY, collector_settings, view
from tests.ingestion.conftest import rows
from viewcount.rawdata import QUARANTINE_ROOT

pytestmark = pytest.mark.integration

PLAYERS, REQUESTS, EVENTS = 4, 50, 50     # 10,000 events in 200 requests
VIDEOS = 8
OUTAGE_S = 10


@dataclass
class Player:
    """One player's requests: each one's event ids, and how many times it was sent."""

    number: int
    url: str
    sent: list[tuple[list[dict], int]] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)     # 503s and dead connections, by kind

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            for r in range(REQUESTS):
                events = [view(f"p{self.number}r{r}e{i}", f"vid_nl_{(r + i) % VIDEOS}", "creator_nl",
                               viewer=f"v{self.number}_{r}_{i}") for i in range(EVENTS)]
                body = "\n".join(json.dumps(e) for e in events).encode()
                attempts = 0
                while True:
                    attempts += 1
                    try:
                        answer = http.post(self.url, content=body, headers={
                            "Authorization": f"Bearer {WRITE_KEY}", "Content-Type": "application/x-ndjson"})
                        if answer.status_code == 202:
                            break
                        assert answer.status_code == 503, answer.text
                        self.refused["503"] += 1
                    except httpx.TransportError:
                        self.refused["connection"] += 1
                    time.sleep(0.2)   # the player's backoff before sending the same body again
                self.sent.append((events, attempts))


def start_collector(settings, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "app", "collect", "--port", str(port)],
                               env={**os.environ, **settings.to_env()}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def ready():
        if process.poll() is not None:
            raise AssertionError(f"the collector exited: {process.stderr.read().decode()[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(ready, 60, interval_s=0.2, what="the collector to be ready")
    return process


def test_nothing_acknowledged_is_lost_across_a_broker_outage_and_a_collector_kill(stack, stack_settings, tmp_path):
    settings = collector_settings(stack_settings, tmp_path, ack_timeout=2000).replace(
        raw_store=(tmp_path / "raw").as_uri(), ingest_group=f"{stack_settings.ingest_group}-{tmp_path.name}")
    port = free_ports(1)[0]
    collector = start_collector(settings, port)
    players = [Player(n, f"http://127.0.0.1:{port}/v1/events") for n in range(PLAYERS)]
    threads = [threading.Thread(target=p.run, daemon=True) for p in players]
    done = lambda: sum(len(p.sent) for p in players)  # noqa: E731
    try:
        for t in threads:
            t.start()
        # 1. Under load, the broker stops for 10 s and comes back.
        wait_for(lambda: done() >= 40, 120, what="load before the outage")
        stack.down(("kafka",), progress=lambda line: None)
        time.sleep(OUTAGE_S)   # the outage itself: the broker stays down this long
        stack.up(("kafka",), progress=lambda line: None)
        # 2. Under load, the collector is killed with SIGKILL and started again.
        wait_for(lambda: done() >= 120, 180, what="load after the outage")
        collector.send_signal(signal.SIGKILL)
        collector.wait(30)
        collector = start_collector(settings, port)
        for t in threads:
            t.join(300)
        assert done() == PLAYERS * REQUESTS
    finally:
        collector.kill()
        collector.wait(30)
    refused = sum((p.refused for p in players), Counter())
    assert refused["503"] > 0 and refused["connection"] > 0, refused   # both faults hit requests

    # Every event is in the raw store; more than once only if its request was sent more than once.
    wiring.raw_sink(settings, SinkMetrics()).run(until_idle_s=2)
    store = wiring.raw_store(settings)
    stored = Counter(json.loads(r["value"])["event_id"] for r in rows(store) + rows(store, QUARANTINE_ROOT))
    for player in players:
        for events, attempts in player.sent:
            for e in events:
                assert stored[e["event_id"]] >= 1, f"{e['event_id']} was acknowledged and is missing"
                assert stored[e["event_id"]] == 1 or attempts > 1, f"{e['event_id']} doubled without a resend"
    assert set(stored) == {e["event_id"] for p in players for events, _ in p.sent for e in events}

    # The speed layer counts each event once: exactly the events sent, per video.
    wiring.speed_counter(settings, SpeedMetrics()).run(until_idle_s=2)
    expected = Counter(e["video_id"] for p in players for events, _ in p.sent for e in events)
    with TestClient(create_app(wiring.serving_reader(settings), Authenticator("admin" * 8, {key_digest("k"): "creator_nl"}),
                               None, settings.topic)) as api:
        body = api.get("/v1/creators/creator_nl/views", headers={"Authorization": "Bearer k"}).json()
    assert Counter({v["video_id"]: v["views"] for v in body["videos"]}) == expected
    print(f"no loss: {done()} requests, {sum(expected.values())} events, refused {dict(refused)}, "
          f"{sum(n > 1 for n in stored.values())} events stored twice or more (resent)")
