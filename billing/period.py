"""Billing periods: UTC calendar months, and when each one closes (CONTRACT §7).

A month ``P`` is closed when the published batch watermark ``W >= end(P) + MAX_EVENT_AGE +
MAX_CLOCK_SKEW`` rounded up to the hour: by then no record with an event time inside ``P`` can
still be counted, so the month's views will not move unless a replay corrects them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from billing.exceptions import PeriodError
from viewcount.timeutil import format_ms, hour_ceil

_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])", re.ASCII)


def _ms(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=timezone.utc).timestamp() * 1000)


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.fullmatch(text or "")
        if match is None or not 1970 <= int(match.group(1)) <= 9998:
            raise PeriodError(f"--period must be a month YYYY-MM (1970 to 9998), not {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start_ms(self) -> int:
        return _ms(self.year, self.month)

    @property
    def end_ms(self) -> int:
        """The first millisecond after the month."""
        return _ms(self.year + self.month // 12, self.month % 12 + 1)

    def first_day(self) -> str:
        return f"{self}-01"

    def contains_day(self, day: str) -> bool:
        """Whether a ``YYYY-MM-DD`` event day lies in the month."""
        return day[:7] == str(self)

    def closes_at_ms(self, max_event_age_ms: int, max_clock_skew_ms: int) -> int:
        return hour_ceil(self.end_ms + max_event_age_ms + max_clock_skew_ms)

    @classmethod
    def of_ms(cls, ms: int) -> Period:
        """The UTC month that holds the instant ``ms``."""
        moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        return cls(moment.year, moment.month)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @classmethod
    def ended_by(cls, ms: int) -> Period:
        """The latest month that has ended at or before the instant ``ms``: what a run scheduled at
        00:00 on the 1st bills (the month that has just ended, not the one that has just begun)."""
        return cls.of_ms(ms).previous()

    @classmethod
    def latest_closed(cls, watermark_ms: int, max_event_age_ms: int, max_clock_skew_ms: int) -> Period:
        """The latest month a batch watermark of ``watermark_ms`` has closed."""
        period = cls.of_ms(watermark_ms)
        while period.closes_at_ms(max_event_age_ms, max_clock_skew_ms) > watermark_ms:
            period = period.previous()
        return period

    def require_closed(self, watermark_ms: int, max_event_age_ms: int, max_clock_skew_ms: int) -> None:
        closes = self.closes_at_ms(max_event_age_ms, max_clock_skew_ms)
        if watermark_ms < closes:
            raise PeriodError(
                f"{self} is still open: it closes when the published batch watermark reaches "
                f"{format_ms(closes)} (month end + MAX_EVENT_AGE + MAX_CLOCK_SKEW, rounded up to the hour); "
                f"the published watermark is {format_ms(watermark_ms)}")
