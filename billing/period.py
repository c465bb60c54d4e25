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
    def latest_closed(cls, watermark_ms: int, max_event_age_ms: int, max_clock_skew_ms: int) -> Period:
        """The latest month a batch watermark of ``watermark_ms`` has closed."""
        moment = datetime.fromtimestamp(watermark_ms / 1000, tz=timezone.utc)
        period = cls(moment.year, moment.month)
        while period.closes_at_ms(max_event_age_ms, max_clock_skew_ms) > watermark_ms:
            period = cls(period.year - (period.month == 1), (period.month - 2) % 12 + 1)
        return period

    def require_closed(self, watermark_ms: int, max_event_age_ms: int, max_clock_skew_ms: int) -> None:
        closes = self.closes_at_ms(max_event_age_ms, max_clock_skew_ms)
        if watermark_ms < closes:
            raise PeriodError(
                f"{self} is still open: it closes when the published batch watermark reaches "
                f"{format_ms(closes)} (month end + MAX_EVENT_AGE + MAX_CLOCK_SKEW, rounded up to the hour); "
                f"the published watermark is {format_ms(watermark_ms)}")
