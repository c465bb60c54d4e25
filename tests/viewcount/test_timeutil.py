import pytest

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
