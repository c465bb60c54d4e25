"""The rate card (CONTRACT §5): a TOML file with one currency, a default rate per 1000 views and
per-creator overrides, all rates as decimal strings.

```toml
currency = "USD"
default_rate_per_1000 = "2.50"
[creators.creator_42]
rate_per_1000 = "4.00"
```

Anything else is refused with a message naming the key: unknown keys, floats, negative or
non-decimal rates, a currency that is not an ISO 4217 code, a malformed creator id.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from billing.exceptions import RateCardError
from billing.money import parse_decimal
from viewcount.events import valid_id

_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_TOP_KEYS = {"currency", "default_rate_per_1000", "creators"}
_CREATOR_KEYS = {"rate_per_1000"}


@dataclass(frozen=True)
class RateCard:
    currency: str
    default_rate_per_1000: Decimal
    creator_rates: dict[str, Decimal] = field(default_factory=dict)
    sha256: str = ""          # of the file's bytes: recorded with every payout computed from it
    source: str = ""

    def rate_for(self, creator_id: str) -> Decimal:
        return self.creator_rates.get(creator_id, self.default_rate_per_1000)


def parse_rate_card(data: bytes, source: str = "rate card") -> RateCard:
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise RateCardError(f"{source}: not valid TOML: {e}") from e
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise RateCardError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("currency", "default_rate_per_1000"):
        if key not in doc:
            raise RateCardError(f"{source}: {key!r} is missing")
    currency = doc["currency"]
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise RateCardError(f"{source}: currency must be an ISO 4217 code such as \"USD\", not {currency!r}")
    default = _rate(doc["default_rate_per_1000"], source, "default_rate_per_1000")
    creators = doc.get("creators", {})
    if not isinstance(creators, dict):
        raise RateCardError(f"{source}: 'creators' must be a table of [creators.<creator_id>] tables")
    rates = {}
    for creator_id, entry in creators.items():
        where = f"creators.{creator_id}"
        if not valid_id(creator_id):
            raise RateCardError(f"{source}: {where}: a creator id must match ^[A-Za-z0-9_-]{{1,64}}$")
        if not isinstance(entry, dict):
            raise RateCardError(f"{source}: {where} must be a table with rate_per_1000")
        unknown = sorted(set(entry) - _CREATOR_KEYS)
        if unknown:
            raise RateCardError(f"{source}: {where}: unknown key {unknown[0]!r} (known: rate_per_1000)")
        if "rate_per_1000" not in entry:
            raise RateCardError(f"{source}: {where}.rate_per_1000 is missing")
        rates[creator_id] = _rate(entry["rate_per_1000"], source, f"{where}.rate_per_1000")
    return RateCard(currency, default, rates, hashlib.sha256(data).hexdigest(), source)


def _rate(value: object, source: str, key: str) -> Decimal:
    try:
        return parse_decimal(value, key)
    except ValueError as e:
        raise RateCardError(f"{source}: {e}") from e


def load_rate_card(path: str) -> RateCard:
    """Read and validate the file ``RATE_CARD`` names."""
    if not path:
        raise RateCardError("VIEWCOUNT_RATE_CARD is not set: billing needs a rate card (CONTRACT §5 format)")
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise RateCardError(f"rate card {path}: {e.strerror or e}") from e
    return parse_rate_card(data, path)
