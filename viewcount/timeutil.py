"""Time helpers shared by every layer. All times are UTC epoch milliseconds (``int``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def parse_rfc3339_ms(text: str) -> int:
    """Parse an RFC 3339 timestamp with an offset or ``Z`` into UTC epoch milliseconds.

    Fractions finer than a millisecond are truncated (both layers keep millisecond precision).
    Raises ``ValueError`` for anything else, including naive times and leap seconds.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time with an offset: {text[:40]!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    if offset in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if offset[0] == "+" else -1
        off_h, off_m = int(offset[1:3]), int(offset[4:6])
        if off_h > 23 or off_m > 59:
            raise ValueError(f"bad UTC offset: {offset!r}")
        tz = timezone(sign * timedelta(hours=off_h, minutes=off_m))
    moment = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    return (moment - EPOCH) // timedelta(milliseconds=1) + millis


def format_ms(epoch_ms: int) -> str:
    """Format epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def format_hour(hour_ms: int) -> str:
    """Format an hour boundary as ``YYYY-MM-DDTHH:00:00Z`` (the API's and truth.json's hour key)."""
    return datetime.fromtimestamp(hour_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:00:00Z")


def hour_floor(epoch_ms: int) -> int:
    """Truncate to the UTC hour: the event hour of an event time, the ingest hour of an ingest time."""
    return epoch_ms - epoch_ms % HOUR_MS


def hour_ceil(epoch_ms: int) -> int:
    """Round up to the next UTC hour boundary (an hour boundary stays as it is)."""
    return -((-epoch_ms) // HOUR_MS) * HOUR_MS


def day_floor(epoch_ms: int) -> int:
    return epoch_ms - epoch_ms % DAY_MS


def month_key(epoch_ms: int) -> str:
    """The UTC month ``YYYY-MM`` an instant falls in (billing periods)."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).strftime("%Y-%m")


def now_ms() -> int:
    return int(datetime.now(tz=timezone.utc).timestamp() * 1000)
