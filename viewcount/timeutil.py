"""Time helpers shared by every layer. All times are UTC epoch milliseconds (``int``)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_ORDINAL = EPOCH.toordinal()
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
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    millis = int(fraction[:3].ljust(3, "0")) if fraction else 0
    if offset in ("Z", "z"):
        offset_s = 0
    else:
        off_h, off_m = int(offset[1:3]), int(offset[4:6])
        if off_h > 23 or off_m > 59:
            raise ValueError(f"bad UTC offset: {offset!r}")
        offset_s = (off_h * 3600 + off_m * 60) * (1 if offset[0] == "+" else -1)
    # datetime() checks the calendar (month, day of month, hour, minute, no leap second); the
    # instant is then plain integer arithmetic, which every view's validation pays for.
    local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    seconds = (local.toordinal() - _EPOCH_ORDINAL) * 86_400 + local.hour * 3600 + local.minute * 60 + local.second
    return (seconds - offset_s) * 1000 + millis


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
    """The wall clock, in ms: for freshness, progress and the idle watermark, never for a count."""
    return int(time.time() * 1000)
