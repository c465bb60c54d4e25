"""What a billing run must write, decided from the month's views and the ledger so far. Pure.

For each creator with views in the month, or with money already paid for it:

* nothing paid yet and views > 0 → one **payout** at the rate card's rate;
* paid, and the month's views are what was paid for → nothing (a re-run writes nothing);
* paid, and the views changed (a replay corrected the month) → one **adjustment** for the
  difference, priced at the rate the month was paid at, so that payout + adjustments always
  equal the month's views × that rate, rounded once. Earlier records are never changed.

Payout ids are derived from what they pay for, so every run on the same inputs, on any machine,
names the same payout the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from audit.kinds import ADJUSTMENT, PAID_KINDS, PAYOUT
from billing.money import amount_for, money_str, parse_decimal, rate_str
from billing.period import Period
from billing.ratecard import RateCard

KINDS = PAID_KINDS


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def payout_id(creator_id: str, period: Period) -> str:
    """The month's one payout to a creator: ``po-YYYY-MM-<digest>``."""
    return f"po-{period}-{_digest(PAYOUT, creator_id, str(period))}"


def adjustment_id(creator_id: str, period: Period, batch_version: str, paid_views: int, views: int) -> str:
    """An adjustment is named by the batch version that moved the count and the move itself."""
    return f"adj-{period}-{_digest(ADJUSTMENT, creator_id, str(period), batch_version, str(paid_views), str(views))}"


@dataclass(frozen=True)
class Entry:
    """One payout or adjustment, as it goes into an audit record's payload."""

    kind: str
    payout_id: str
    creator_id: str
    period: Period
    views: int                  # the views this entry pays for (an adjustment's may be negative)
    rate_per_1000: Decimal
    currency: str
    amount: Decimal
    adjusts: str | None = None  # an adjustment names the payout it corrects
    views_total: int = 0        # after this entry: what the month is paid for, in views and money
    amount_total: Decimal = Decimal("0.00")

    def payload(self) -> dict:
        body = {"payout_id": self.payout_id, "creator_id": self.creator_id, "period": str(self.period),
                "views": self.views, "rate_per_1000": rate_str(self.rate_per_1000), "currency": self.currency,
                "amount": money_str(self.amount), "views_total": self.views_total,
                "amount_total": money_str(self.amount_total)}
        if self.adjusts:
            body["adjusts"] = self.adjusts
        return body


@dataclass(frozen=True)
class Paid:
    """What the ledger already holds for one creator and month."""

    payout_id: str
    views: int
    amount: Decimal
    rate_per_1000: Decimal
    currency: str


def entry_from_record(record: dict) -> Entry:
    """Read a payout or adjustment back from its audit record (strings → Decimal, never float)."""
    p = record["payload"]
    return Entry(record["kind"], p["payout_id"], p["creator_id"], Period.parse(p["period"]), int(p["views"]),
                 parse_decimal(p["rate_per_1000"], "rate_per_1000"), p["currency"], _signed(p["amount"]),
                 p.get("adjusts"), int(p.get("views_total", p["views"])), _signed(p.get("amount_total", p["amount"])))


def _signed(text: str) -> Decimal:
    negative = text.startswith("-")
    value = parse_decimal(text[1:] if negative else text, "amount")
    return -value if negative else value


def is_entry_of(record: dict, period: Period) -> bool:
    """Whether an audit record is a payout or adjustment of ``period``."""
    return record.get("kind") in KINDS and record["payload"].get("period") == str(period)


def paid_so_far(records: Iterable[dict], period: Period, into: dict[str, Paid] | None = None) -> dict[str, Paid]:
    """Fold payout and adjustment records of ``period`` into what each creator has been paid."""
    paid = {} if into is None else into
    for record in records:
        if not is_entry_of(record, period):
            continue
        e = entry_from_record(record)
        before = paid.get(e.creator_id)
        if before is None:
            paid[e.creator_id] = Paid(e.payout_id, e.views, e.amount, e.rate_per_1000, e.currency)
        else:
            paid[e.creator_id] = Paid(before.payout_id, before.views + e.views, before.amount + e.amount,
                                      before.rate_per_1000, before.currency)
    return paid


def plan_entry(creator_id: str, views: int, paid: Paid | None, rate_card: RateCard, period: Period,
               batch_version: str) -> Entry | None:
    """The one record this creator's month needs now, or None when the ledger already holds it."""
    if paid is None:
        if views <= 0:
            return None
        rate = rate_card.rate_for(creator_id)
        amount = amount_for(views, rate)
        return Entry(PAYOUT, payout_id(creator_id, period), creator_id, period, views, rate,
                     rate_card.currency, amount, None, views, amount)
    if views == paid.views:
        return None
    total = amount_for(views, paid.rate_per_1000)
    return Entry(ADJUSTMENT, adjustment_id(creator_id, period, batch_version, paid.views, views), creator_id,
                 period, views - paid.views, paid.rate_per_1000, paid.currency, total - paid.amount,
                 paid.payout_id, views, total)


def plan(month_views: dict[str, int], paid: dict[str, Paid], rate_card: RateCard, period: Period,
         batch_version: str) -> list[Entry]:
    """Every record the month needs now, creators in id order."""
    entries = (plan_entry(c, month_views.get(c, 0), paid.get(c), rate_card, period, batch_version)
               for c in sorted(set(month_views) | set(paid)))
    return [e for e in entries if e is not None]
