"""Request bodies and what the collector stamps (CONTRACT §8), as pure functions."""

from __future__ import annotations

import json

import pytest

from collector.bodies import MAX_BODY_BYTES, MAX_EVENTS, parse_body
from collector.edge import edge_headers, ip_hmac, ip_prefix
from collector.exceptions import BadBody
from viewcount.events import json_schema, parse_event

VIEW = {"event_id": "e1", "video_id": "vid_1", "creator_id": "c1", "viewer_id": "u1",
        "event_time": "2026-11-26T06:00:00Z", "watch_ms": 45000}


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "text/plain;charset=UTF-8"])
def test_ndjson_lines_are_the_values_verbatim(content_type):
    lines = [json.dumps(VIEW).encode(), b"not json", b'{"video_id": "vid_2"}']
    events = parse_body(content_type, b"\n".join(lines) + b"\r\n\n")
    assert [e.value for e in events] == lines
    assert [e.key for e in events] == [b"vid_1", None, b"vid_2"]


def test_json_arrays_and_cloudevents_give_compact_json():
    array = parse_body("application/json", json.dumps([VIEW, "junk"], indent=2).encode())
    assert [e.value for e in array] == [json.dumps(VIEW, separators=(",", ":")).encode(), b'"junk"']
    batch = [{"specversion": "1.0", "id": "1", "source": "/player", "type": "view", "data": VIEW}]
    cloud = parse_body("application/cloudevents-batch+json", json.dumps(batch).encode())
    assert [(e.value, e.key) for e in cloud] == [(array[0].value, b"vid_1")]


@pytest.mark.parametrize("content_type, body, status", [
    ("application/xml", b"<view/>", 415), (None, b"{}", 415),
    ("application/json", b'{"not": "an array"}', 400), ("application/json", b"[NaN]", 400),
    ("application/json", b"[" * 600_000 + b"]" * 600_000, 413),
    ("application/json", b"[" * 50_000 + b"]" * 50_000, 400),
    ("application/cloudevents-batch+json", json.dumps([VIEW]).encode(), 400),
    ("application/x-ndjson", b"\n\n", 400), ("application/json", b"[]", 400),
    ("application/json", json.dumps([VIEW] * (MAX_EVENTS + 1)).encode(), 413),
    ("application/x-ndjson", b"x" * (MAX_BODY_BYTES + 1), 413),
    ("application/json", b"\xff\xfe[1]", 400),
])
def test_bodies_the_contract_refuses(content_type, body, status):
    with pytest.raises(BadBody) as refused:
        parse_body(content_type, body)
    assert refused.value.status == status


def test_what_the_edge_stamps_never_holds_the_address():
    assert ip_prefix("203.0.113.77") == "203.0.113.0/24"
    assert ip_prefix("2001:db8:abcd:12::1") == "2001:db8:abcd::/48" and ip_prefix("nonsense") == "unknown"
    headers = dict(edge_headers("web-player", "x" * 600, "203.0.113.77", b"k" * 32))
    assert headers["vc-source"] == b"web-player" and len(headers["vc-user-agent"]) == 512
    assert headers["vc-ip-hmac"] == ip_hmac("203.0.113.77", b"k" * 32).encode() and len(headers["vc-ip-hmac"]) == 32
    assert b"203.0.113.77" not in b"".join(headers.values())


def test_the_schema_says_what_the_validator_checks():
    schema = json_schema()
    assert schema["required"] == ["event_id", "video_id", "creator_id", "viewer_id", "event_time", "watch_ms"]
    assert schema["properties"]["watch_ms"]["maximum"] == 86_400_000
    import re

    pattern = re.compile(schema["properties"]["video_id"]["pattern"])
    for good in ("vid_1", "a" * 64):
        assert pattern.search(good) and not isinstance(parse_event(json.dumps({**VIEW, "video_id": good}).encode()),
                                                         type(parse_event(b"x")))
    for bad in ("vid 1", "a" * 65, "vïd"):
        assert not pattern.search(bad)
