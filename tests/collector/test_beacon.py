"""viewcount-beacon.js in real headless Chromium, on a page of another origin, against the real
collector and broker: batches go by size and by time, a collector that is down at first is
retried with backoff, what is queued when the page goes away leaves with navigator.sendBeacon,
and every view arrives in the API's counts."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from app import wiring
from collector.app import STATIC
from devtools.sandbox import free_ports, wait_for
from serving_layer.app import create_app
from serving_layer.auth import Authenticator, key_digest
from speed_layer.metrics import SpeedMetrics
from tests.collector.test_collector import WRITE_KEY, collector_settings
from tests.conftest import serving

pytestmark = pytest.mark.integration

PLAYER = """<!doctype html><html><head><meta charset="utf-8"><title>player</title>
<script src="viewcount-beacon.js"></script></head><body><p>a video player</p></body></html>"""


@pytest.fixture
def page_origin(tmp_path):
    """A static site on its own loopback port (another origin than the collector): the player
    page, which hosts its own copy of the beacon script."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "player.html").write_text(PLAYER)
    shutil.copy(STATIC / "viewcount-beacon.js", site / "viewcount-beacon.js")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def send_views(browser, beacon: str, video: str, count: int, first: int) -> None:
    browser.execute_script(f"""
        for (let i = {first}; i < {first + count}; i++)
            window.{beacon}.view({{video_id: {json.dumps(video)}, creator_id: "creator_b", viewer_id: "viewer_" + i,
                                   watch_ms: 45000}});""")


def stats(browser, beacon: str) -> dict:
    return browser.execute_script(f"return Object.assign({{pending: window.{beacon}.pending}}, window.{beacon}.stats);")


def test_views_from_a_browser_player_arrive_in_the_counts(stack, stack_settings, tmp_path, page_origin, browser):
    settings = collector_settings(stack_settings, tmp_path, allowed_origins=page_origin)
    port = free_ports(1)[0]
    collector_url = f"http://127.0.0.1:{port}"
    browser.get(f"{page_origin}/player.html")
    browser.execute_script(f"""
        const options = {{collector: {json.dumps(collector_url)}, writeKey: {json.dumps(WRITE_KEY)}}};
        window.player = new ViewcountBeacon({{...options, batchSize: 50, flushMs: 300, minBackoffMs: 200,
                                             maxBackoffMs: 1000}});
        window.idle = new ViewcountBeacon({{...options, flushMs: 3600000}});   // sends only on page hide""")

    # 1. The collector is not up yet: the first batches fail and are kept for a retry.
    send_views(browser, "player", "vid_beacon_1", 120, first=0)
    wait_for(lambda: stats(browser, "player")["retried"] >= 2, 30, what="failed sends to be retried")
    assert stats(browser, "player")["acknowledged"] == 0

    app, clients = wiring.collector_app(settings)
    try:
        with serving(app, port=port):
            # 2. Up: the retries go through (two full batches of 50, then the rest on the timer).
            wait_for(lambda: stats(browser, "player")["acknowledged"] == 120, 60, what="the batches to be acknowledged")
            send_views(browser, "player", "vid_beacon_2", 30, first=120)
            wait_for(lambda: stats(browser, "player")["acknowledged"] == 150, 60, what="the timed batch")
            assert stats(browser, "player")["pending"] == 0

            # 3. Views queued when the page goes away leave with sendBeacon.
            send_views(browser, "idle", "vid_beacon_3", 25, first=150)
            assert stats(browser, "idle") | {"queued": 25, "pending": 25} == stats(browser, "idle")
            browser.get("about:blank")                    # pagehide

            def counted() -> Counter:
                wiring.speed_counter(settings, SpeedMetrics()).run(until_idle_s=0.5)
                with TestClient(create_app(wiring.serving_reader(settings), Authenticator(
                        "admin" * 8, {key_digest("key-b"): "creator_b"}), None, settings.topic)) as api:
                    body = api.get("/v1/creators/creator_b/views", headers={"Authorization": "Bearer key-b"}).json()
                return Counter({v["video_id"]: v["views"] for v in body["videos"]})

            # 4. Every view is counted once, retried batches included.
            expected = Counter({"vid_beacon_1": 120, "vid_beacon_2": 30, "vid_beacon_3": 25})
            wait_for(lambda: counted() == expected, 60, interval_s=0.5, what=f"the API to count {dict(expected)}")
    finally:
        for client in clients:
            client.close()
