"""Keys and timestamps that `produce` derives from a line (CONTRACT §4)."""

import pytest

from ingestion.produce import as_object, ingest_time_of, key_of, read_lines


@pytest.mark.parametrize("line, key", [
    (b'{"video_id": "vid_1", "x": 1}', b"vid_1"),
    (b'  {"video_id": "vid 1"}', b"vid 1"),            # invalid id, still a string: still the key
    (b'{"video_id": 12}', None),
    (b'{"other": "vid_1"}', None),
    (b'["vid_1"]', None),
    (b"not json", None),
    (b'{"video_id": "\xff"}', None),
    (b"[" * 5000 + b"]" * 5000, None),
])
def test_the_key_is_a_string_video_id_of_an_object(line, key):
    assert key_of(as_object(line)) == key


@pytest.mark.parametrize("line, expected", [
    (b'{"ingest_time": "2026-11-21T10:00:00.5Z"}', 1795255200500),
    (b'{"ingest_time": "2026-11-21T11:00:00.5+01:00"}', 1795255200500),
    (b'{"ingest_time": "2026-11-21 10:00:00"}', None),
    (b'{"ingest_time": 1795255200500}', None),
    (b'{"other": "2026-11-21T10:00:00Z"}', None),
    (b"garbage", None),
])
def test_the_ingest_time_field_when_present_and_valid(line, expected):
    assert ingest_time_of(line, "ingest_time") == expected


def test_lines_keep_everything_but_their_newline():
    stream = [b"a\n", b"\n", b"b\r\n", b"last"]
    assert list(read_lines(stream)) == [b"a", b"", b"b\r", b"last"]
