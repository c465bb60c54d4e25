""":func:`~viewcount.events.parse_event` over many record values at once, valid rows as columns.

The answer is exactly ``[parse_event(v) for v in values]``; only the work differs. A scan reads
the values it can prove valid and leaves every other one, and every one it doubts, to
:func:`parse_event` itself, which names the reason. Two scans give the same answers:

- ``native`` (``viewcount/_eventscan.c``) reads each value's bytes once, in C, and takes any
  object whose keys and strings are printable ASCII without escapes and whose values are not
  nested; it hashes the fingerprints too. It is built when the package is installed with a C
  compiler at hand.
- ``python`` takes a value when orjson decodes it and encoding that object again gives back the
  very same bytes: a repeated key, a ``NaN``, an escape or a space would all change those bytes,
  so what passes is canonical JSON with one reading. Its fields are then checked a column at a
  time, and the event times of the usual shape (``YYYY-MM-DDTHH:MM:SS.mmmZ``) are read by array
  arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import orjson

from viewcount.events import (ID_PATTERN, MAX_VALUE_BYTES, MAX_WATCH_MS, SCHEMA_VERSION, InvalidEvent, ViewEvent,
                              event_fingerprint, parse_event)

try:
    from viewcount import _eventscan
except ImportError:     # installed without a C compiler: the python scan reads every value
    _eventscan = None

# Deeper values go to the exact decoder, whose recursion limit names them too_deep; this is far
# below that limit, and far above anything a view needs.
MAX_FAST_NESTING = 32
_TIME_WIDTH = 24                                      # 2026-11-21T10:15:30.250Z
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22])
_SEPARATORS = {4: b"-", 7: b"-", 10: b"Tt", 13: b":", 16: b":", 19: b".", 23: b"Zz"}

# A scan: (indices of the values it proves valid, their seven columns, the other indices).
Scan = Callable[[list[bytes | None]], tuple[list[int], list[list], list[int]]]


@dataclass(frozen=True, slots=True)
class DecodedEvents:
    """What :func:`parse_event` says of each value: the valid ones as columns, in input order,
    and the reason for each of the others."""

    rows: list[int]                   # indices of the valid values, ascending
    event_id: list[str]
    video_id: list[str]
    creator_id: list[str]
    viewer_id: list[str]
    event_time_ms: list[int]
    watch_ms: list[int]
    fingerprint: list[bytes]          # ViewEvent.fingerprint of each
    invalid: dict[int, InvalidEvent]  # index → reason, ascending

    def events(self) -> list[ViewEvent | InvalidEvent]:
        """One answer per value, as :func:`parse_event` gives it."""
        out: list[ViewEvent | InvalidEvent | None] = [None] * (len(self.rows) + len(self.invalid))
        for i, *fields in zip(self.rows, self.event_id, self.video_id, self.creator_id, self.viewer_id,
                              self.event_time_ms, self.watch_ms):
            out[i] = ViewEvent(*fields)
        for i, reason in self.invalid.items():
            out[i] = reason
        return out  # type: ignore[return-value]

    @classmethod
    def of(cls, parsed: list[ViewEvent | InvalidEvent]) -> DecodedEvents:
        """The columns of answers already in hand (one record at a time, as a replay reads them)."""
        valid = [(i, e) for i, e in enumerate(parsed) if isinstance(e, ViewEvent)]
        return cls([i for i, _ in valid], [e.event_id for _, e in valid], [e.video_id for _, e in valid],
                   [e.creator_id for _, e in valid], [e.viewer_id for _, e in valid],
                   [e.event_time_ms for _, e in valid], [e.watch_ms for _, e in valid],
                   [e.fingerprint() for _, e in valid],
                   {i: e for i, e in enumerate(parsed) if not isinstance(e, ViewEvent)})


def decode_events(values: list[bytes | None], scan: Scan | None = None) -> DecodedEvents:
    """``[parse_event(v) for v in values]``, as columns; ``scan`` is the native one where built."""
    rows, columns, doubtful = (scan or DEFAULT_SCAN)(values)
    exact = {i: parse_event(values[i]) for i in sorted(doubtful)}
    invalid = {i: e for i, e in exact.items() if not isinstance(e, ViewEvent)}
    if len(invalid) < len(exact):   # rare: valid, but not in a shape the scan reads
        kept_rows = sorted([*zip(rows, *columns), *((i, e.event_id, e.video_id, e.creator_id, e.viewer_id,
                                                      e.event_time_ms, e.watch_ms, e.fingerprint())
                                                     for i, e in exact.items() if isinstance(e, ViewEvent))])
        rows, *columns = [list(c) for c in zip(*kept_rows)]
    return DecodedEvents(rows, *columns, invalid)


def python_scan(values: list[bytes | None]) -> tuple[list[int], list[list], list[int]]:
    """The scan in Python: canonical JSON objects only (see the top of this module)."""
    rows, objects, doubtful = _canonical_objects(values)
    rows, columns = _checked_columns(rows, objects, doubtful)
    columns[4] = times = _event_times_ms(columns[4])
    if None in times:
        doubtful += [i for i, t in zip(rows, times) if t is None]
        kept = [k for k, t in enumerate(times) if t is not None]
        rows, columns = [rows[k] for k in kept], [[c[k] for k in kept] for c in columns]
    columns.append([event_fingerprint(*fields) for fields in zip(*columns)])
    return rows, columns, doubtful


def native_scan(values: list[bytes | None]) -> tuple[list[int], list[list], list[int]]:
    """The scan in C (``viewcount/_eventscan.c``)."""
    rows, *columns, doubtful = _eventscan.scan(values, MAX_VALUE_BYTES)
    return rows, columns, doubtful


SCANS: dict[str, Scan] = {"python": python_scan, **({"native": native_scan} if _eventscan else {})}
DEFAULT_SCAN: Scan = SCANS.get("native", python_scan)


def _canonical_objects(values: list[bytes | None]) -> tuple[list[int], list[dict], list[int]]:
    """(indices, objects) of the values that are canonical JSON objects, and the other indices."""
    loads, dumps, error = orjson.loads, orjson.dumps, orjson.JSONDecodeError
    rows: list[int] = []
    objects: list[dict] = []
    doubtful: list[int] = []
    for i, value in enumerate(values):
        if value is not None and len(value) <= MAX_VALUE_BYTES and \
                value.count(b"{") + value.count(b"[") <= MAX_FAST_NESTING:
            try:
                obj = loads(value)
            except error:
                obj = None
            if type(obj) is dict and dumps(obj) == value:
                rows.append(i)
                objects.append(obj)
                continue
        doubtful.append(i)
    return rows, objects, doubtful


def _checked_columns(rows: list[int], objects: list[dict], doubtful: list[int]) -> tuple[list[int], list[list]]:
    """The rows whose objects keep every rule but the event time's, and their contract fields as
    columns (event time still as text); the other rows are added to ``doubtful``."""
    ids = ID_PATTERN.fullmatch
    kept: list[int] = []
    columns: list[list] = [[], [], [], [], [], []]
    add_e, add_v, add_c, add_w, add_t, add_ms = (c.append for c in columns)
    for i, obj in zip(rows, objects):
        e, v, c, w = obj.get("event_id"), obj.get("video_id"), obj.get("creator_id"), obj.get("viewer_id")
        t, ms, version = obj.get("event_time"), obj.get("watch_ms"), obj.get("schema_version", SCHEMA_VERSION)
        if (type(e) is str and type(v) is str and type(c) is str and type(w) is str and type(t) is str
                and type(ms) is int and 0 <= ms <= MAX_WATCH_MS and type(version) is int and version == SCHEMA_VERSION
                and ids(e) is not None and ids(v) is not None and ids(c) is not None and ids(w) is not None):
            kept.append(i)
            add_e(e), add_v(v), add_c(c), add_w(w), add_t(t), add_ms(ms)
        else:
            doubtful.append(i)
    return kept, columns


def _event_times_ms(texts: list[str]) -> list[int | None]:
    """Epoch milliseconds of each ``YYYY-MM-DDTHH:MM:SS.mmmZ`` time that is a real instant (as
    :func:`~viewcount.timeutil.parse_rfc3339_ms` reads it); None for anything else."""
    shaped = [i for i, t in enumerate(texts) if len(t) == _TIME_WIDTH]
    out: list[int | None] = [None] * len(texts)
    if not shaped:
        return out
    # A character outside ASCII becomes "?" (one byte for one character), which no check passes.
    raw = "".join(texts[i] for i in shaped).encode("ascii", "replace")  # type: ignore[misc]
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _TIME_WIDTH)
    ok = np.all((chars[:, _DIGITS] >= 0x30) & (chars[:, _DIGITS] <= 0x39), axis=1)
    for at, allowed in _SEPARATORS.items():
        ok &= np.isin(chars[:, at], np.frombuffer(allowed, dtype=np.uint8))
    d = chars.astype(np.int64) - 0x30
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day = d[:, 5] * 10 + d[:, 6], d[:, 8] * 10 + d[:, 9]
    hour, minute, second = d[:, 11] * 10 + d[:, 12], d[:, 14] * 10 + d[:, 15], d[:, 17] * 10 + d[:, 18]
    millis = d[:, 20] * 100 + d[:, 21] * 10 + d[:, 22]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)] + \
        (leap & (month == 2))
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days) & \
        (hour <= 23) & (minute <= 59) & (second <= 59)   # no leap second, as datetime() refuses one
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    y = year - (month <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146_097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719_468
    epoch_ms = ((days * 86_400 + hour * 3_600 + minute * 60 + second) * 1000 + millis).tolist()
    for i, good, ms in zip(shaped, ok.tolist(), epoch_ms):
        if good:
            out[i] = ms
    return out
