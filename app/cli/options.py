"""Option values the commands share, checked the same way everywhere.

The ``argparse`` types below turn a bad value into argparse's own error (one line, exit 2,
see :class:`OneLineParser`) before a command starts."""

from __future__ import annotations

import argparse
import math
import sys

from viewcount.errors import ViewcountError
from viewcount.timeutil import parse_rfc3339_ms


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr and exit status 2 (``--help`` shows the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def time_option(value: str | None, option: str) -> int | None:
    """An RFC 3339 option as epoch milliseconds (None when not given); a bad one is a one-line error."""
    if value is None:
        return None
    try:
        return parse_rfc3339_ms(value)
    except ValueError as e:
        raise ViewcountError(f"{option}: {e}") from e


def seconds(text: str) -> float:
    """A duration in seconds: a finite number, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, not {text!r}")
    return value


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, not {text!r}")
    return value


def _integer(text: str, low: int, high: int = sys.maxsize, what: str = "an integer") -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}") from None
    if not low <= value <= high:
        bounds = f" from {low} to {high}" if high < sys.maxsize else ""
        raise argparse.ArgumentTypeError(f"expected {what}{bounds}, not {value}")
    return value


def port(text: str) -> int:
    return _integer(text, 1, 65_535, "a port")


def port_or_zero(text: str) -> int:
    return _integer(text, 0, 65_535, "a port (0: a free one)")


def non_negative(text: str) -> int:
    return _integer(text, 0, what="an integer >= 0")


def positive(text: str) -> int:
    return _integer(text, 1, what="an integer >= 1")
