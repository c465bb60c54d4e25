"""Which month a billing run bills and which W an hourly run recomputes, for every kind of run."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.dag_periods import billing_period, closes_too_late, hourly_watermark
from billing.exceptions import PeriodError
from billing.period import Period
from viewcount.timeutil import format_ms, parse_rfc3339_ms

DAY, MINUTE = 86_400_000, 60_000


def at(text: str) -> datetime:
    return datetime.fromtimestamp(parse_rfc3339_ms(text) / 1000, tz=timezone.utc)


def no_lookup() -> Period:
    raise AssertionError("the published watermark must not be consulted")


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_a_run_on_the_clock_bills_the_month_that_ended_by_its_logical_date(run_type):
    assert str(billing_period("", run_type, at("2026-12-01T00:00:00Z"), no_lookup)) == "2026-11"
    assert str(billing_period("", run_type, at("2027-01-01T00:00:00Z"), no_lookup)) == "2026-12"


@pytest.mark.parametrize("run_type", ["manual", "asset_triggered"])
def test_a_run_off_the_clock_bills_the_latest_closed_month(run_type):
    # Triggered on 1 December: November is still open, so the latest closed month is October.
    closed = Period.parse("2026-10")
    assert billing_period("", run_type, at("2026-12-01T00:00:00Z"), lambda: closed) == closed


@pytest.mark.parametrize("run_type", ["scheduled", "manual", "asset_triggered"])
def test_the_period_param_wins_for_every_run(run_type):
    assert str(billing_period("2025-02", run_type, at("2026-12-01T00:00:00Z"), no_lookup)) == "2025-02"


def test_a_malformed_period_param_is_refused():
    with pytest.raises(PeriodError, match="YYYY-MM"):
        billing_period("2026-13", "manual", None, no_lookup)


def test_a_month_that_closes_within_the_wait_is_waited_for():
    october = Period.parse("2026-10")   # closes at W >= 2026-11-08T01:00Z with 7 days and 5 minutes
    now = parse_rfc3339_ms("2026-11-01T00:00:00Z")
    assert closes_too_late(october, 7 * DAY, 5 * MINUTE, now, 21 * DAY) is None
    assert closes_too_late(october, 7 * DAY, 5 * MINUTE, parse_rfc3339_ms("2027-06-01T00:00:00Z"), 21 * DAY) is None


def test_a_month_that_cannot_close_in_time_is_refused_with_when_to_retry():
    now = parse_rfc3339_ms("2026-11-26T00:00:00Z")
    reason = closes_too_late(Period.parse("2027-05"), 7 * DAY, 5 * MINUTE, now, 21 * DAY)
    closes = Period.parse("2027-05").closes_at_ms(7 * DAY, 5 * MINUTE)
    assert reason == (f"2027-05 cannot close before this run stops waiting: it closes when the published batch "
                      f"watermark reaches 2027-06-08T01:00:00.000Z (month end + MAX_EVENT_AGE + MAX_CLOCK_SKEW), "
                      f"and the sensor gives up at 2026-12-17T00:00:00.000Z; trigger the run at or after "
                      f"{format_ms(closes - 21 * DAY)}")
    # The month that is running now cannot close within the wait either, when the wait is short.
    assert closes_too_late(Period.parse("2026-11"), 7 * DAY, 5 * MINUTE, now, DAY) is not None


@pytest.mark.parametrize("asked, interval_end, run_after, expected", [
    ("", "2026-11-20T11:00:00Z", "2026-11-20T11:00:00Z", "2026-11-20T11:00:00.000Z"),      # scheduled
    ("", "2026-11-20T10:17:42.5Z", "2026-11-20T10:17:42.5Z", "2026-11-20T10:00:00.000Z"),  # manual at 10:17
    ("", None, "2026-11-20T10:59:59.999Z", "2026-11-20T10:00:00.000Z"),                    # no data interval
    ("2026-11-19T07:30:00+02:00", "2026-11-20T11:00:00Z", "2026-11-20T11:00:00Z", "2026-11-19T05:00:00.000Z"),
    ("2026-11-19T05:00:00Z", None, "2026-11-20T10:17:00Z", "2026-11-19T05:00:00.000Z"),
])
def test_the_hourly_watermark_is_floored_to_the_hour_for_every_trigger(asked, interval_end, run_after, expected):
    end = at(interval_end) if interval_end else None
    assert format_ms(hourly_watermark(asked, end, at(run_after))) == expected
