"""Hostile requests against the collector on a real socket (uvicorn, the real broker): each gets the
contract's status and never a 500, and a client trickling its body is cut off (408) while other
players are served."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from app import wiring
from devtools.sandbox import wait_for
from tests.collector.test_collector import WRITE_KEY, collector_settings, view
from tests.conftest import serving

pytestmark = pytest.mark.integration

BODY_TIMEOUT_S = 2
GOOD = json.dumps(view("h1", "vid_h", "creator_h")).encode()


@pytest.fixture(scope="module")
def live_collector(stack, stack_settings, tmp_path_factory):
    settings = collector_settings(stack_settings, tmp_path_factory.mktemp("hostile"),
                                  body_timeout=BODY_TIMEOUT_S * 1000)
    app, clients = wiring.collector_app(settings)
    try:
        with serving(app) as base:
            yield base
    finally:
        for client in clients:
            client.close()


def post(base: str, body, content_type: str | None = "application/x-ndjson", **headers) -> httpx.Response:
    sent = {"Authorization": f"Bearer {WRITE_KEY}", **headers}
    if content_type is not None:
        sent["Content-Type"] = content_type
    return httpx.post(f"{base}/v1/events", content=body, headers=sent, timeout=30)


def chunks(data: bytes, size: int = 1 << 16):
    for i in range(0, len(data), size):
        yield data[i:i + size]


HOSTILE = [
    ("deep array nesting", lambda: b"[" * 50_000 + b"]" * 50_000, "application/json", 400, None),
    ("deep nesting in a line", lambda: b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/x-ndjson", 202, "too_deep"),
    ("a huge string", lambda: json.dumps({**view("h2", "vid_h", "c"), "viewer_id": "x" * 900_000}).encode(),
     "application/x-ndjson", 202, "too_large"),
    ("not UTF-8 in a line", lambda: b"\xff\xfe\x00{" + GOOD, "application/x-ndjson", 202, "not_utf8"),
    ("not UTF-8 as an array", lambda: b"\xff\xfe[" + GOOD + b"]", "application/json", 400, None),
    ("a 10 MB body", lambda: GOOD + b"\n" + b" " * (10 << 20), "application/x-ndjson", 413, None),
    ("a 10 MB body, chunked", lambda: chunks(GOOD + b"\n" + b" " * (10 << 20)), "application/x-ndjson", 413, None),
    ("100k elements", lambda: b"[" + b",".join([b"1"] * 100_000) + b"]", "application/json", 413, None),
    ("100k lines", lambda: b"\n".join([GOOD] * 100_000)[: (1 << 20) - 1], "application/x-ndjson", 413, None),
    ("XML", lambda: b"<view/>", "application/xml", 415, None),
    ("a form", lambda: b"a=1", "application/x-www-form-urlencoded", 415, None),
    ("no content type", lambda: GOOD, None, 415, None),
    ("an empty body", lambda: b"", "application/x-ndjson", 400, None),
    ("a CloudEvent without data", lambda: json.dumps([{"specversion": "1.0", "id": "1"}]).encode(),
     "application/cloudevents-batch+json", 400, None),
]


@pytest.mark.parametrize("name, body, content_type, status, reason", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_body_gets_the_contracts_status(live_collector, name, body, content_type, status, reason):
    answer = post(live_collector, body(), content_type)
    assert answer.status_code == status, answer.text[:500]
    if reason is not None:
        assert [i["reason"] for i in answer.json()["invalid"]] == [reason]
    else:
        assert answer.json()["error"]   # a JSON error body with a code, not a trace


def test_a_trickled_body_is_cut_off_while_other_players_are_served(live_collector):
    host, port = live_collector.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                 b"Authorization: Bearer " + WRITE_KEY.encode() + b"\r\nContent-Length: 4096\r\n\r\n")
    stalled = [socket.create_connection((host, int(port))) for _ in range(20)]   # headers that never end
    for s in stalled:
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
    try:
        started = time.monotonic()
        answer = b""

        def trickle_until_answered() -> bool:
            nonlocal answer
            try:
                slow.sendall(b"x")
            except OSError:     # the server closed it after answering
                pass
            slow.settimeout(0.25)
            try:
                answer += slow.recv(4096)
            except TimeoutError:
                pass
            return answer.startswith(b"HTTP/1.1 ")

        # Meanwhile, a player's request is answered at once.
        assert post(live_collector, GOOD).status_code == 202
        wait_for(trickle_until_answered, BODY_TIMEOUT_S + 10, interval_s=0, what="the trickled request's answer")
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert BODY_TIMEOUT_S - 0.5 <= time.monotonic() - started <= BODY_TIMEOUT_S + 5
        assert post(live_collector, GOOD).status_code == 202
    finally:
        for s in [slow, *stalled]:
            s.close()
