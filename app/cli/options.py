"""Option values the commands share, checked the same way everywhere."""

from __future__ import annotations

from viewcount.errors import ViewcountError
from viewcount.timeutil import parse_rfc3339_ms


def time_option(value: str | None, option: str) -> int | None:
    """An RFC 3339 option as epoch milliseconds (None when not given); a bad one is a one-line error."""
    if value is None:
        return None
    try:
        return parse_rfc3339_ms(value)
    except ValueError as e:
        raise ViewcountError(f"{option}: {e}") from e
