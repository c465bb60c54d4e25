"""Data checks over a month's payouts, run before anything is written (Great Expectations).

Money enters the frames as integer cents, so the suites compare exact numbers.
"""

from __future__ import annotations

from decimal import Decimal

from billing.money import amount_for
from billing.plan import PAYOUT, Entry
from billing.statement import parse_csv
from billing.views import MonthViews


def cents(amount: Decimal | str) -> int:
    value = Decimal(amount) if isinstance(amount, str) else amount
    return int((value * 100).to_integral_exact())


def run_checks(month: MonthViews, entries: list[Entry], statement_csv: bytes, data_docs=None,
               run_name: str = "") -> list:
    """``entries``: every payout and adjustment of the month once this run is done (those in the
    ledger and those about to be written); ``statement_csv``: the statement they make. With
    ``data_docs`` (:class:`expectations.runner.DataDocs`), the results are kept in its project and
    its Data Docs show them under ``run_name``."""
    import pandas as pd

    from expectations.runner import Checker

    payouts = pd.DataFrame([{"payout_id": e.payout_id, "creator_id": e.creator_id, "views": e.views,
                             "amount_cents": cents(e.amount)} for e in entries if e.kind == PAYOUT],
                           columns=["payout_id", "creator_id", "views", "amount_cents"])
    per_creator: dict[str, list[Entry]] = {}
    for e in entries:
        per_creator.setdefault(e.creator_id, []).append(e)
    creator_month = pd.DataFrame([{
        "creator_id": c,
        "paid_views": sum(e.views for e in es),
        "batch_views": month.by_creator.get(c, 0),
        "paid_cents": sum(cents(e.amount) for e in es),
        "expected_cents": cents(amount_for(month.by_creator.get(c, 0), es[0].rate_per_1000)),
    } for c, es in sorted(per_creator.items())] + [
        {"creator_id": c, "paid_views": 0, "batch_views": n, "paid_cents": 0, "expected_cents": 0}
        for c, n in sorted(month.by_creator.items()) if c not in per_creator],
        columns=["creator_id", "paid_views", "batch_views", "paid_cents", "expected_cents"])
    rows, total = parse_csv(statement_csv)
    statement = pd.DataFrame([{
        "rows_cents": sum(cents(r["amount"]) for r in rows),
        "total_cents": cents(total["amount"]) if total else -1,
        "rows_views": sum(int(r["views"]) for r in rows),
        "total_views": int(total["views"]) if total else -1,
        "creator_daily_views": month.daily_total,
        "video_hourly_views": month.hourly_total,
        "accounted_views": sum(int(r["views"]) for r in rows) + month.unassigned,
    }])
    with Checker(data_docs, run_name) as checker:
        return [
            checker.check("payouts", payouts),
            checker.check("creator_month", creator_month),
            checker.check("statement", statement),
        ]
