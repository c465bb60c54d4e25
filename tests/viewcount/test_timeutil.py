from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from viewcount.timeutil import (
    HOUR_MS, format_hour, format_ms, hour_ceil, hour_floor, month_key, parse_rfc3339_ms,
)


def test_format_and_parse_round_trip():
    for ms in (0, 1763720130250, 1763720130001, 253402300799999):
        assert parse_rfc3339_ms(format_ms(ms)) == ms


def test_hours():
    t = parse_rfc3339_ms("2026-11-21T10:15:30.250Z")
    assert format_hour(hour_floor(t)) == "2026-11-21T10:00:00Z"
    assert hour_ceil(t) == hour_floor(t) + HOUR_MS
    assert hour_ceil(hour_floor(t)) == hour_floor(t)
    assert hour_floor(-1) == -HOUR_MS


@pytest.mark.parametrize("text, month", [("2026-10-31T23:59:59.999Z", "2026-10"),
                                         ("2026-11-01T00:30:00+01:00", "2026-10"),
                                         ("2026-11-01T00:00:00Z", "2026-11")])
def test_month_key_is_the_utc_month(text, month):
    assert month_key(parse_rfc3339_ms(text)) == month



@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       st.integers(-23 * 60 - 59, 23 * 60 + 59), st.sampled_from(["", ".5", ".123", ".123456", ".1234567"]),
       st.booleans())
def test_parsing_agrees_with_aware_datetime_arithmetic(local, offset_min, fraction, zulu):
    """The integer arithmetic gives the instant that datetime's own aware arithmetic gives."""
    local = local.replace(microsecond=0)
    offset_min = 0 if zulu else offset_min
    sign = "+" if offset_min >= 0 else "-"
    offset = "Z" if zulu else f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    text = (f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:{local.minute:02d}:"
            f"{local.second:02d}{fraction}{offset}")
    millis = int(fraction[1:4].ljust(3, "0")) if fraction else 0
    aware = local.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert parse_rfc3339_ms(text) == (aware - epoch) // timedelta(milliseconds=1) + millis
