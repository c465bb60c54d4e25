"""Periods and when they close: W >= end(P) + MAX_EVENT_AGE + MAX_CLOCK_SKEW, up to the hour."""

from __future__ import annotations

import pytest

from billing.exceptions import PeriodError
from billing.period import Period
from viewcount.timeutil import parse_rfc3339_ms

DAY, MINUTE = 86_400_000, 60_000


def test_bounds_and_december_rollover():
    p = Period.parse("2026-12")
    assert p.start_ms == parse_rfc3339_ms("2026-12-01T00:00:00Z")
    assert p.end_ms == parse_rfc3339_ms("2027-01-01T00:00:00Z")
    assert str(p) == "2026-12" and p.contains_day("2026-12-31") and not p.contains_day("2027-01-01")


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-1", "26-10", "2026-10-01", "", "1969-12", "2026/10", "9999-12"])
def test_malformed_periods_are_refused(bad):
    with pytest.raises(PeriodError, match="YYYY-MM"):
        Period.parse(bad)


def test_closes_at_the_hour_after_end_plus_age_plus_skew():
    p = Period.parse("2026-10")
    closes = p.closes_at_ms(7 * DAY, 5 * MINUTE)
    assert closes == parse_rfc3339_ms("2026-11-08T01:00:00Z")  # 00:05 rounded up to the hour
    p.require_closed(closes, 7 * DAY, 5 * MINUTE)
    with pytest.raises(PeriodError, match=r"2026-10 is still open: it closes when .* reaches 2026-11-08T01:00:00.000Z"):
        p.require_closed(closes - 3_600_000, 7 * DAY, 5 * MINUTE)


def test_an_hour_aligned_close_is_not_pushed_further():
    p = Period.parse("2026-02")
    assert p.closes_at_ms(DAY, 0) == parse_rfc3339_ms("2026-03-02T00:00:00Z")


@pytest.mark.parametrize("w, expected", [
    ("2026-11-22T08:00:00Z", "2026-10"), ("2026-11-08T01:00:00Z", "2026-10"), ("2026-11-08T00:00:00Z", "2026-09"),
    ("2027-01-10T00:00:00Z", "2026-12"), ("2027-01-05T00:00:00Z", "2026-11"),
])
def test_the_latest_closed_month_at_a_watermark(w, expected):
    assert str(Period.latest_closed(parse_rfc3339_ms(w), 7 * DAY, 5 * MINUTE)) == expected


@pytest.mark.parametrize("moment, expected", [
    ("2026-12-01T00:00:00Z", "2026-11"),       # a run at 00:00 on the 1st bills the month that just ended
    ("2026-12-01T00:00:00.001Z", "2026-11"), ("2026-12-31T23:59:59.999Z", "2026-11"),
    ("2027-01-01T00:00:00Z", "2026-12"), ("2026-03-01T00:00:00Z", "2026-02"),
])
def test_the_month_that_has_ended_by_an_instant(moment, expected):
    assert str(Period.ended_by(parse_rfc3339_ms(moment))) == expected
