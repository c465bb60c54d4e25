"""The view event, schema version 1 (CONTRACT §1), and its validator.

:func:`parse_event` turns a Kafka record value into a :class:`ViewEvent` or an
:class:`InvalidEvent` carrying a stable reason code. It never raises on hostile input: huge
values, deep nesting, bad UTF-8, NUL bytes and injection attempts in ids all become reasons.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import Enum

import orjson

from viewcount.timeutil import parse_rfc3339_ms

SCHEMA_VERSION = 1
ID_FIELDS = ("event_id", "video_id", "creator_id", "viewer_id")
MAX_WATCH_MS = 86_400_000
# A view is a few hundred bytes. A value this large is hostile and is refused before it is
# decoded, so one record cannot stall a consumer.
MAX_VALUE_BYTES = 65_536  # CONTRACT §1: longer values are too_large, unparsed
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


def valid_id(text: object) -> bool:
    """CONTRACT §1: an id is 1–64 of ``[A-Za-z0-9_-]`` (so never a Redis key separator or glob)."""
    return isinstance(text, str) and ID_PATTERN.fullmatch(text) is not None


class InvalidReason(str, Enum):
    """Why a record is invalid. The values are stable: they are stored and reported."""

    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    TOO_DEEP = "too_deep"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    BAD_ID = "bad_id"
    BAD_EVENT_TIME = "bad_event_time"
    BAD_WATCH_MS = "bad_watch_ms"
    BAD_SCHEMA_VERSION = "bad_schema_version"


@dataclass(frozen=True, slots=True)
class ViewEvent:
    event_id: str
    video_id: str
    creator_id: str
    viewer_id: str
    event_time_ms: int
    watch_ms: int

    def fingerprint(self) -> bytes:
        """8 bytes identifying the contract fields, to tell a conflicting duplicate from a re-send."""
        return event_fingerprint(self.event_id, self.video_id, self.creator_id, self.viewer_id,
                                 self.event_time_ms, self.watch_ms)


def event_fingerprint(event_id: str, video_id: str, creator_id: str, viewer_id: str, event_time_ms: int,
                      watch_ms: int) -> bytes:
    """:meth:`ViewEvent.fingerprint` of these fields (the raw sink hashes columns, not events)."""
    canonical = "\x1f".join((event_id, video_id, creator_id, viewer_id, str(event_time_ms), str(watch_ms)))
    return hashlib.blake2b(canonical.encode(), digest_size=8).digest()


@dataclass(frozen=True, slots=True)
class InvalidEvent:
    reason: InvalidReason
    detail: str

    @property
    def reason_text(self) -> str:
        """``reason: detail``, as stored in quarantine and sent in dead-letter headers."""
        return f"{self.reason.value}: {self.detail}"


def parse_event(value: bytes | None) -> ViewEvent | InvalidEvent:
    """Validate one record value against CONTRACT §1."""
    if value is None:
        return InvalidEvent(InvalidReason.NOT_JSON, "record has no value")
    if len(value) > MAX_VALUE_BYTES:
        return InvalidEvent(InvalidReason.TOO_LARGE, f"{len(value)} bytes > {MAX_VALUE_BYTES}")
    obj = decode_plain_object(value)
    return validate_object(obj) if obj is not None else _parse_exactly(value)


def decode_plain_object(value: bytes) -> dict | None:
    """The object, decoded at native speed (orjson), when that provably gives what the exact
    decoder below gives: a flat object (no nested object or array), no backslash (so each ``:``
    byte inside a string is a ``:`` of its decoded text: UTF-8 never hides one), and exactly one
    ``:`` outside strings per member decoded (a repeated key would add one). None for anything
    else, every error included: the exact decoder then decides, and names the reason."""
    if b"\\" in value:
        return None
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    colons_in_strings = 0
    for name, field in obj.items():
        kind = type(field)
        if kind is dict or kind is list:
            return None
        colons_in_strings += name.count(":") + (field.count(":") if kind is str else 0)
    return obj if value.count(b":") - colons_in_strings == len(obj) else None


def _parse_exactly(value: bytes) -> ViewEvent | InvalidEvent:
    """The stdlib decoder with RFC 8259's strictness added: every reason code comes from here."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as e:
        return InvalidEvent(InvalidReason.NOT_UTF8, f"invalid UTF-8 at byte {e.start}")
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_without_repeats)
    except RecursionError:
        return InvalidEvent(InvalidReason.TOO_DEEP, "JSON nested too deeply")
    except ValueError as e:
        return InvalidEvent(InvalidReason.NOT_JSON, _short(str(e)))
    if not isinstance(obj, dict):
        return InvalidEvent(InvalidReason.NOT_OBJECT, f"JSON {type(obj).__name__}, not an object")
    return validate_object(obj)


def _reject_constant(name: str) -> None:
    # Python's json reads NaN, Infinity and -Infinity; RFC 8259 (CONTRACT §1) does not.
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def _object_without_repeats(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"the object repeats the key {_short(repeated, 40)!r} (RFC 8259: not portable JSON)")
    return obj


def validate_object(obj: dict) -> ViewEvent | InvalidEvent:
    """Validate an already decoded JSON object (the rules of CONTRACT §1, in field order)."""
    for name in (*ID_FIELDS, "event_time", "watch_ms"):
        if name not in obj:
            return InvalidEvent(InvalidReason.MISSING_FIELD, name)
    for name in ID_FIELDS:
        if not valid_id(obj[name]):
            return InvalidEvent(InvalidReason.BAD_ID, f"{name} must match ^[A-Za-z0-9_-]{{1,64}}$")
    event_time = obj["event_time"]
    if not isinstance(event_time, str):
        return InvalidEvent(InvalidReason.BAD_EVENT_TIME, "event_time must be a string")
    try:
        event_time_ms = parse_rfc3339_ms(event_time)
    except (ValueError, OverflowError) as e:
        return InvalidEvent(InvalidReason.BAD_EVENT_TIME, _short(str(e)))
    watch_ms = obj["watch_ms"]
    if type(watch_ms) is not int:  # bool is an int subclass; JSON true is not a duration
        return InvalidEvent(InvalidReason.BAD_WATCH_MS, "watch_ms must be a JSON integer")
    if not 0 <= watch_ms <= MAX_WATCH_MS:
        return InvalidEvent(InvalidReason.BAD_WATCH_MS, f"watch_ms must be in [0, {MAX_WATCH_MS}]")
    if "schema_version" in obj:
        version = obj["schema_version"]
        if type(version) is not int or version != SCHEMA_VERSION:
            return InvalidEvent(InvalidReason.BAD_SCHEMA_VERSION, f"schema_version must be {SCHEMA_VERSION}")
    return ViewEvent(
        event_id=obj["event_id"],
        video_id=obj["video_id"],
        creator_id=obj["creator_id"],
        viewer_id=obj["viewer_id"],
        event_time_ms=event_time_ms,
        watch_ms=watch_ms,
    )


def json_schema() -> dict:
    """The view event as JSON Schema (draft 2020-12), from the same definitions the validator
    checks (CONTRACT §8 serves it). RFC 3339 offsets and the 65,536-byte limit are checked by the
    validator only: JSON Schema cannot say them exactly."""
    identifier = {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://viewcount.dev/v1/schema/view-event.json",
        "title": f"view event, schema version {SCHEMA_VERSION}",
        "type": "object",
        "required": [*ID_FIELDS, "event_time", "watch_ms"],
        "properties": {
            **{name: identifier for name in ID_FIELDS},
            "event_time": {"type": "string", "format": "date-time"},
            "watch_ms": {"type": "integer", "minimum": 0, "maximum": MAX_WATCH_MS},
            "schema_version": {"const": SCHEMA_VERSION},
        },
        "additionalProperties": True,
    }


def _short(text: str, limit: int = 120) -> str:
    """Details echo no more than a short, printable prefix of what the sender wrote."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[:limit] + "…"
