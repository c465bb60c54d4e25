"""decode_events says of every value exactly what parse_event says; only the work differs."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viewcount.eventbatch import (DEFAULT_SCAN, MAX_FAST_NESTING, SCANS, DecodedEvents, _canonical_objects,
                                  _event_times_ms, decode_events)
from viewcount.events import MAX_VALUE_BYTES, ViewEvent, parse_event
from viewcount.timeutil import parse_rfc3339_ms


def event(**changes) -> dict:
    base = {"event_id": "3f2c1a9e-0b7d-4c55-9d1e-2a6f0c8b1e42", "video_id": "vid_1", "creator_id": "creator_42",
            "viewer_id": "viewer_7", "event_time": "2026-11-21T10:15:30.250Z", "watch_ms": 45000}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def usual_shape(moment: datetime) -> str:
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def agrees(values: list[bytes | None], scan: str) -> DecodedEvents:
    decoded = decode_events(values, SCANS[scan])
    assert decoded.events() == [parse_event(v) for v in values]
    assert decoded.fingerprint == [e.fingerprint() for e in decoded.events() if isinstance(e, ViewEvent)]
    return decoded


every_scan = pytest.mark.parametrize("scan", ["python", "native"])


# Values near every edge of the fast path: each contract field right and wrong, times of the
# usual shape that are no instant (day 31 of a 30-day month, 29 February of 1900, year 0, hour 24,
# a leap second) and of other shapes, repeated keys, spaces, escapes, nesting, and values that
# are no JSON object at all.
EDGE_TIMES = ["2026-04-31T10:00:00.000Z", "1900-02-29T00:00:00.000Z", "2000-02-29T23:59:59.999z",
               "0000-01-01T00:00:00.000Z", "2026-11-21T24:00:00.000Z", "2026-12-31T23:59:60.000Z",
               "2026-11-21t10:15:30.250Z", "2026-11-21T10:15:30.250+01:00", "2026-11-21T10:15:30Z",
               "2026-11-21T10:15:30.250", "2026-11-21T10:15:30,250Z", "2026-١١-21T10:15:30.250Z",
               "2026-13-01T00:00:00.000Z", "2026-00-10T00:00:00.000Z", "2026-11-00T00:00:00.000Z",
               "2026-11-21T10:60:00.000Z", " 026-11-21T10:15:30.250Z"]
_ID = st.sampled_from(["vid_1"] * 6 + ["a" * 64, "a" * 65, "", "a:b", "é", "a b", "A-Z_09", "a\nb", "vid_1\n", "\n"])
_TIME = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(usual_shape),
    st.sampled_from(EDGE_TIMES),
    st.text(alphabet="0123456789-T:.Zz+", min_size=24, max_size=24))
_WATCH = st.sampled_from([45000] * 6 + [0, 86_400_000, 86_400_001, -1, 1.0, True, "1", None, 2**64])
_VERSION = st.sampled_from([None] * 3 + [1] * 3 + [2, True, 1.0, "1"])
_EXTRA = st.sampled_from([{}, {"ingest_time": "2026-11-21T10:15:31.000Z"}, {"player": {"a": [1, "x:y"]}},
                          {"note": "é\u2028"}, {"big": 1.5e300}])


@st.composite
def _values(draw) -> bytes | None:
    fields = event(event_id=draw(_ID), video_id=draw(_ID), viewer_id=draw(_ID), event_time=draw(_TIME),
                   watch_ms=draw(_WATCH), schema_version=draw(_VERSION), **draw(_EXTRA))
    if draw(st.booleans()):
        fields.pop(draw(st.sampled_from(sorted(fields))))
    compact = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
    return draw(st.sampled_from([
        compact, compact, compact,
        json.dumps(fields).encode(),                               # spaces
        json.dumps(fields, separators=(",", ":")).encode(),        # \u escapes for what is not ASCII
        compact[:-1] + b',"event_id":"other"}',                    # a repeated key
        compact[:-1] + b',"x":NaN}', compact[:-1], b"[" + compact + b"]", compact + b" ", compact + compact,
        compact.replace(b"e", b"\xff", 1), None,
    ]))


@every_scan
@given(st.lists(_values(), max_size=30))
@settings(max_examples=1500, deadline=None)
def test_every_value_gets_what_parse_event_gives_it(scan, values):
    agrees(values, scan)


def test_canonical_events_take_the_fast_path_and_every_other_shape_goes_to_parse_event():
    canonical = orjson.dumps(event())
    values = [canonical, json.dumps(event()).encode(), canonical[:-1] + b',"video_id":"vid_2"}', canonical]
    rows, _, doubtful = _canonical_objects(values)
    assert (rows, doubtful) == ([0, 3], [1, 2])
    assert agrees(values, "python").rows == [0, 1, 3]


@every_scan
@pytest.mark.parametrize("depth, reason", [(MAX_FAST_NESTING + 1, None), (10_000, "too_deep")])
def test_deep_values_are_left_to_the_exact_decoder(scan, depth, reason):
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    value = orjson.dumps(event())[:-1] + b',"x":' + nested + b"}"
    assert _canonical_objects([value])[0] == []
    decoded = agrees([value], scan)
    assert [e.reason.value for e in decoded.invalid.values()] == ([reason] if reason else [])


@every_scan
def test_values_too_large_or_missing_keep_their_reasons(scan):
    huge = orjson.dumps(event(pad="x" * MAX_VALUE_BYTES))
    decoded = agrees([huge, None, b"", orjson.dumps(event())], scan)
    assert [e.reason.value for e in decoded.invalid.values()] == ["too_large", "not_json", "not_json"]
    assert decoded.rows == [3]


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)))
@settings(max_examples=2000)
def test_times_of_the_usual_shape_read_as_parse_rfc3339_ms_reads_them(moment):
    text = usual_shape(moment)
    assert _event_times_ms([text]) == [parse_rfc3339_ms(text)]
    assert parse_rfc3339_ms(text) == (moment - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


@pytest.mark.parametrize("text", EDGE_TIMES)
def test_edge_times_read_as_parse_rfc3339_ms_reads_them_or_are_declined(text):
    try:
        exact = parse_rfc3339_ms(text)
    except ValueError:
        exact = None
    assert _event_times_ms([text]) == [exact if len(text) == 24 and text.endswith(("Z", "z")) else None]


@given(st.text(alphabet="0123456789-T:.Zzt+ ", min_size=24, max_size=24))
@settings(max_examples=3000)
def test_any_other_24_characters_are_declined_or_read_alike(text):
    try:
        exact = parse_rfc3339_ms(text)
    except (ValueError, OverflowError):
        exact = None
    fast = _event_times_ms([text])[0]
    assert fast is None or fast == exact


def test_columns_of_answers_in_hand_are_the_decoded_columns():
    values = [orjson.dumps(event()), b"junk", json.dumps(event(event_id="e2")).encode()]
    assert DecodedEvents.of([parse_event(v) for v in values]) == decode_events(values)


def test_the_native_scan_is_built_and_is_the_default():
    # The package builds it wherever a C compiler is at hand; without it every value is still
    # read exactly, by the python scan, only slower.
    assert "native" in SCANS and DEFAULT_SCAN is SCANS["native"]


# Raw objects token by token, for what the native scan reads beyond canonical JSON: whitespace
# between tokens, numbers at the edges of RFC 8259's grammar, literals, unknown and repeated keys.
_KEYS = st.sampled_from(["event_id", "video_id", "creator_id", "viewer_id", "event_time", "watch_ms",
                         "schema_version", "x", "x", "y", "event_id ", "Event_id", "é"])
_TOKENS = st.sampled_from([
    '"vid_1"', '"a:b"', '""', '"2026-11-21T10:15:30.250Z"', '"2026-02-29T10:15:30.250Z"', '"\\u0076id"', '"é"',
    '"tab\there"', '"\x7f"', "0", "-0", "1", "45000", "-1", "01", "1.", "1.0", "1e3", "1E+2", "-", "1e", ".5",
    "86400000", "86400001", "123456789012345678", "1234567890123456789", "1" + "0" * 50, "1.5e999",
    "true", "false", "null", "tru", "nul", "NaN", "-Infinity", "{}", "[]", '{"a":1}', "[1]"])
_SPACE = st.sampled_from(["", "", "", " ", "\n", "\t", "\r", "\x0b", "\x0c", "\u00a0"])


@st.composite
def _raw_values(draw) -> bytes:
    base = {"event_id": '"e1"', "video_id": '"vid_1"', "creator_id": '"creator_42"', "viewer_id": '"viewer_7"',
            "event_time": '"2026-11-21T10:15:30.250Z"', "watch_ms": "45000"}
    members = list(base.items())
    for _ in range(draw(st.integers(0, 4))):
        members.insert(draw(st.integers(0, len(members))), (draw(_KEYS), draw(_TOKENS)))
    if draw(st.booleans()):
        members.pop(draw(st.integers(0, len(members) - 1)))
    space = draw(_SPACE)
    text = space + "{" + ",".join(f'{draw(_SPACE)}"{k}"{draw(_SPACE)}:{draw(_SPACE)}{v}{draw(_SPACE)}'
                                  for k, v in members) + "}" + space
    return text.encode()


@every_scan
@given(st.lists(_raw_values(), max_size=20))
@settings(max_examples=1500, deadline=None)
def test_objects_written_token_by_token_get_what_parse_event_gives_them(scan, values):
    agrees(values, scan)


@pytest.mark.parametrize("value, read", [
    (orjson.dumps(event()), True),
    (json.dumps(event()).encode(), True),                                   # spaces
    (json.dumps(event(watch_ms=0)).encode().replace(b": 0", b": -0"), True),  # -0 reads as 0
    (orjson.dumps(event(note=None, flag=True, ratio=0.5, big=1.5e300)), True),
    (orjson.dumps(event(note="é")), False),                                 # not ASCII
    (json.dumps(event(), separators=(",", ":")).encode().replace(b"vid_1", b"vid\\u005f1"), False),  # escape
    (orjson.dumps(event(player={"a": 1})), False),                          # nested
    (orjson.dumps(event())[:-1] + b',"x":1,"y":2,"x":3}', False),              # a repeated key
    (orjson.dumps(event(**{f"k{i}": i for i in range(40)})), False),        # more members than it compares
    (orjson.dumps(event(event_time="2026-11-21T10:15:30.250+00:00")), False),  # another time shape
])
def test_the_native_scan_reads_plain_objects_and_leaves_the_rest_to_parse_event(value, read):
    rows, _, doubtful = SCANS["native"]([value])
    assert (rows, doubtful) == (([0], []) if read else ([], [0]))
    agrees([value], "native")


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)))
@settings(max_examples=1000)
def test_the_native_scan_reads_times_as_parse_rfc3339_ms_reads_them(moment):
    decoded = agrees([orjson.dumps(event(event_time=usual_shape(moment)))], "native")
    assert decoded.rows == [0]


@pytest.mark.parametrize("text", EDGE_TIMES)
def test_the_native_scan_reads_edge_times_as_parse_event_does(text):
    agrees([orjson.dumps(event(event_time=text))], "native")


@given(st.binary(max_size=400))
@settings(max_examples=500)
def test_the_native_fingerprint_is_blake2b_of_8_bytes(data):
    from viewcount import _eventscan
    assert _eventscan.fingerprint(data) == hashlib.blake2b(data, digest_size=8).digest()
