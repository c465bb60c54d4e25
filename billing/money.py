"""Money arithmetic: ``Decimal`` only, half-even to cents, decimal strings in and out.

A float never becomes an amount: :func:`parse_decimal` takes strings only, and the functions
here refuse anything that is not a ``Decimal`` or an ``int`` where a count is expected.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

CENT = Decimal("0.01")
_DECIMAL = re.compile(r"\d{1,9}(\.\d{1,6})?", re.ASCII)  # up to 999,999,999.999999


def parse_decimal(text: object, what: str = "value") -> Decimal:
    """A non-negative decimal string such as ``"2.50"`` (no sign, exponent, float or int)."""
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a decimal string such as \"2.50\", not {type(text).__name__} {text!r}")
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{what} must be a non-negative decimal string with at most 9 digits before and 6 "
                         f"after the point, such as \"2.50\", not {text!r}")
    return Decimal(text)


def amount_for(views: int, rate_per_1000: Decimal) -> Decimal:
    """``views × rate / 1000``, computed exactly and rounded half-even to cents."""
    if not isinstance(views, int) or isinstance(views, bool):
        raise TypeError(f"views must be an int, not {type(views).__name__}")
    if not isinstance(rate_per_1000, Decimal):
        raise TypeError(f"rate_per_1000 must be a Decimal, not {type(rate_per_1000).__name__}")
    with localcontext() as ctx:
        ctx.prec = 60  # far beyond any views × rate, so the only rounding is the one to cents
        return (Decimal(views) * rate_per_1000 / 1000).quantize(CENT, rounding=ROUND_HALF_EVEN)


def money_str(amount: Decimal) -> str:
    """Cents as a plain decimal string: ``"12.30"``, ``"-0.05"`` (never an exponent)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_EVEN):f}"


def rate_str(rate: Decimal) -> str:
    """A rate as written on the rate card, normalised to at least two decimals: ``"2.50"``."""
    text = f"{rate:f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"
