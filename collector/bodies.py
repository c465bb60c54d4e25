"""Request bodies → record values, one per event (CONTRACT §8). Pure.

NDJSON (and ``text/plain``, what ``navigator.sendBeacon`` sends for a string) is split into lines,
each line the value verbatim. A JSON array's elements, and a CloudEvents batch's ``data``, become
their compact JSON. Whether an event is *valid* is not decided here: every event of an accepted
request is produced, valid or not, so that the quarantine keeps what was sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from collector.exceptions import BadBody

MAX_EVENTS = 1000
MAX_BODY_BYTES = 1 << 20

NDJSON = ("application/x-ndjson", "text/plain")
JSON_ARRAY = "application/json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
CONTENT_TYPES = (*NDJSON, JSON_ARRAY, CLOUDEVENTS_BATCH)


_UNKNOWN = object()


@dataclass
class Event:
    """One event's record value, and its key: the ``video_id`` when the event is an object with a
    string one. An NDJSON line's key is read only when asked for, because the collector learns
    it from validating the line (:meth:`learn_video`), which parses it anyway."""

    value: bytes
    _key: object = _UNKNOWN

    @property
    def key(self) -> bytes | None:
        if self._key is _UNKNOWN:
            self._key = _key_of_line(self.value)
        return self._key

    def learn_video(self, video_id: str) -> None:
        """The key, from the event's ``video_id`` once a validator has read it."""
        if self._key is _UNKNOWN:
            self._key = video_id.encode("utf-8", "surrogatepass")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(content_type: str | None, body: bytes) -> list[Event]:
    kind = media_type(content_type)
    if kind not in CONTENT_TYPES:
        raise BadBody(415, "unsupported_media_type", f"Content-Type must be one of {', '.join(CONTENT_TYPES)}")
    if len(body) > MAX_BODY_BYTES:
        raise BadBody(413, "too_large", f"a request carries at most {MAX_BODY_BYTES} bytes")
    if kind in NDJSON:
        values = [line.rstrip(b"\r") for line in body.split(b"\n")]
        values = [v for v in values if v.strip()]
        events = [Event(v) for v in values]
    else:
        elements = _array(body)
        if kind == CLOUDEVENTS_BATCH:
            elements = [_cloudevent_data(i, element) for i, element in enumerate(elements)]
        events = [Event(_compact(e), _key(e)) for e in elements]
    if not events:
        raise BadBody(400, "bad_request", "the body holds no event")
    if len(events) > MAX_EVENTS:
        raise BadBody(413, "too_many_events", f"a request carries at most {MAX_EVENTS} events")
    return events


def _array(body: bytes) -> list:
    try:
        parsed = json.loads(body, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise BadBody(400, "bad_request", "the body is not a JSON array") from None
    if not isinstance(parsed, list):
        raise BadBody(400, "bad_request", "the body is not a JSON array")
    return parsed


def _not_json(name: str):
    raise ValueError(f"{name} is not JSON")


def _cloudevent_data(index: int, element) -> object:
    if not isinstance(element, dict) or element.get("specversion") != "1.0" or "data" not in element:
        raise BadBody(400, "bad_request", f"element {index} is not a CloudEvent 1.0 with data")
    return element["data"]


def _compact(element) -> bytes:
    try:
        return json.dumps(element, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    except RecursionError:
        raise BadBody(400, "bad_request", "an event is nested too deeply") from None


def _key(element) -> bytes | None:
    if isinstance(element, dict) and isinstance(element.get("video_id"), str):
        return element["video_id"].encode("utf-8", "surrogatepass")
    return None


def _key_of_line(line: bytes) -> bytes | None:
    if not line.lstrip()[:1] == b"{":
        return None
    try:
        return _key(json.loads(line))
    except (ValueError, RecursionError):
        return None
