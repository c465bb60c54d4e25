"""Every rule of CONTRACT §1 and the reason code it yields."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viewcount.events import (InvalidEvent, InvalidReason, ViewEvent, _object_without_repeats, _reject_constant,
                              decode_plain_object, parse_event)


def event(**changes) -> dict:
    base = {
        "event_id": "3f2c1a9e-0b7d-4c55-9d1e-2a6f0c8b1e42", "video_id": "vid_1",
        "creator_id": "creator_42", "viewer_id": "viewer_7",
        "event_time": "2026-11-21T10:15:30.250Z", "watch_ms": 45000,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()


def parse(obj) -> ViewEvent | InvalidEvent:
    return parse_event(json.dumps(obj).encode())


def test_a_valid_event_is_parsed_with_utc_milliseconds():
    parsed = parse(event())
    assert parsed == ViewEvent("3f2c1a9e-0b7d-4c55-9d1e-2a6f0c8b1e42", "vid_1", "creator_42",
                               "viewer_7", 1795256130250, 45000)


@pytest.mark.parametrize("extra", [{"schema_version": 1}, {"player": "tv", "nested": {"a": [1]}}])
def test_schema_version_1_and_unknown_fields_are_accepted(extra):
    assert isinstance(parse(event(**extra)), ViewEvent)


@pytest.mark.parametrize("text, millis", [
    ("2026-11-21T10:15:30Z", 1795256130000),
    ("2026-11-21T10:15:30.2Z", 1795256130200),
    ("2026-11-21T10:15:30.123456789Z", 1795256130123),   # truncated to the millisecond
    ("2026-11-21T11:15:30.250+01:00", 1795256130250),
    ("2026-11-21T05:45:30.250-04:30", 1795256130250),
    ("2026-11-21t10:15:30.250z", 1795256130250),
])
def test_event_time_is_normalised_to_utc_milliseconds(text, millis):
    assert parse(event(event_time=text)).event_time_ms == millis


@pytest.mark.parametrize("value, reason", [
    (None, InvalidReason.NOT_JSON),
    (b"\xff\xfe{}", InvalidReason.NOT_UTF8),
    (b"not json", InvalidReason.NOT_JSON),
    (b"", InvalidReason.NOT_JSON),
    (b'{"video_id": "v"', InvalidReason.NOT_JSON),
    (b"[" * 10_000 + b"]" * 10_000, InvalidReason.TOO_DEEP),
    (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, InvalidReason.TOO_DEEP),
    (b"[1, 2]", InvalidReason.NOT_OBJECT),
    (b'"text"', InvalidReason.NOT_OBJECT),
    (b"null", InvalidReason.NOT_OBJECT),
    (b'{"x": "' + b"a" * 900_000 + b'"}', InvalidReason.TOO_LARGE),
])
def test_undecodable_values_get_their_reason(value, reason):
    parsed = parse_event(value)
    assert isinstance(parsed, InvalidEvent) and parsed.reason is reason


@pytest.mark.parametrize("field", ["event_id", "video_id", "creator_id", "viewer_id", "event_time", "watch_ms"])
def test_each_required_field_is_required(field):
    parsed = parse(event(**{field: DROP}))
    assert parsed.reason is InvalidReason.MISSING_FIELD and parsed.detail == field


@pytest.mark.parametrize("field", ["event_id", "video_id", "creator_id", "viewer_id"])
@pytest.mark.parametrize("bad", [
    "", "a" * 65, "vid 1", "../../etc/passwd", "vïdéo", "vid\u0000x", "vid\nx", "views:*",
    "{vid}", "vid;DROP", 12, None, ["a"], "vid_1\n",
])
def test_ids_must_match_the_pattern(field, bad):
    parsed = parse(event(**{field: bad}))
    assert parsed.reason is InvalidReason.BAD_ID and field in parsed.detail


def test_ids_of_64_characters_are_valid():
    assert isinstance(parse(event(event_id="A-_9" * 16)), ViewEvent)


@pytest.mark.parametrize("bad", [
    "2026-11-21T10:15:30", "2026-11-21 10:15:30Z", "2026-11-21", "yesterday", 1795256130250,
    "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T10:15:60Z",
    "2026-11-21T10:15:30+25:00", "2026-11-21T10:15:30.Z", " 2026-11-21T10:15:30Z", None,
])
def test_event_time_must_be_rfc3339_with_an_offset(bad):
    assert parse(event(event_time=bad)).reason is InvalidReason.BAD_EVENT_TIME


@pytest.mark.parametrize("bad", [45000.0, True, False, "45000", -1, 86_400_001, None, [1]])
def test_watch_ms_must_be_an_integer_in_range(bad):
    assert parse(event(watch_ms=bad)).reason is InvalidReason.BAD_WATCH_MS


@pytest.mark.parametrize("good", [0, 86_400_000])
def test_watch_ms_bounds_are_inclusive(good):
    assert parse(event(watch_ms=good)).watch_ms == good


@pytest.mark.parametrize("bad", [2, 0, "1", 1.0, True, None])
def test_schema_version_when_present_must_be_integer_1(bad):
    assert parse(event(schema_version=bad)).reason is InvalidReason.BAD_SCHEMA_VERSION


def test_reason_text_is_short_and_printable_for_hostile_input():
    parsed = parse_event(b'{"video_id": "\x01\x02' + b"x" * 5000)
    assert parsed.reason is InvalidReason.NOT_JSON
    assert len(parsed.reason_text) < 200 and parsed.reason_text.isprintable()


def test_fingerprint_tells_contract_fields_apart_and_ignores_other_fields():
    a, b = parse(event()), parse(event(player="tv", schema_version=1))
    assert a.fingerprint() == b.fingerprint()
    assert parse(event(watch_ms=45001)).fingerprint() != a.fingerprint()
    assert parse(event(event_time="2026-11-21T11:15:30.250+01:00")).fingerprint() == a.fingerprint()


# The native-speed decoder is taken only where it provably agrees with the exact one: for every
# value, it either declines (None) or returns what the exact decoder returns, and the exact
# decoder then accepts that value too. Values are built from pieces that stress its argument:
# colons inside keys and strings, escapes, repeated keys, nesting, odd numbers and whitespace.
_KEYS = st.sampled_from(["event_id", "video_id", "a", "a:b", ":", "é", "watch_ms", 'q"'])
_SCALARS = st.sampled_from(['"x"', '"a:b"', '"::"', '"\\u003a"', '"\\\\"', '"é:"', "1", "-0", "1.5", "1e400",
                            "18446744073709551616", "true", "null", "NaN", "01", '"\\ud800"', "[]", '{"k": 1}',
                            '[{"a": 1, "a": 2}]'])


@st.composite
def _objects(draw) -> bytes:
    members = draw(st.lists(st.tuples(_KEYS, _SCALARS, st.sampled_from(["", " ", "\n", "\t "])), max_size=6))
    body = ",".join(f"{json.dumps(k, ensure_ascii=False)}{ws}:{ws}{v}" for k, v, ws in members)
    return draw(st.sampled_from(["{%s}", " {%s} ", "[{%s}]", "{%s"])).replace("%s", body).encode()


@given(_objects())
@settings(max_examples=2000)
def test_the_fast_decoder_agrees_with_the_exact_one_or_declines(value):
    fast = decode_plain_object(value)
    if fast is not None:
        exact = json.loads(value, object_pairs_hook=_object_without_repeats, parse_constant=_reject_constant)
        assert fast == exact


@pytest.mark.parametrize("value", [
    b'{"a": 1, "a": 2}', b'{"a": "x:y", "a": 2}', b'{"a:b": 1, "a:b": 1}', b'{"a": {"b": 1}}', b'{"a": [1]}',
    b'{"a": "\\u003a", "a": 1}', b'[1]', b'{"a": NaN}', b'{"a": 1', b"\xff{}",
])
def test_the_fast_decoder_declines_what_it_cannot_prove(value):
    assert decode_plain_object(value) is None


def test_a_plain_event_takes_the_fast_decoder():
    value = json.dumps(event(extra="a:b:c")).encode()
    assert decode_plain_object(value) == json.loads(value)
    assert isinstance(parse_event(value), ViewEvent)
