"""Billing's operations as one call each, from settings: what `viewcount billing run` and the
monthly Airflow DAG run."""

from __future__ import annotations

from collections.abc import Callable

from billing.money import money_str
from billing.period import Period
from billing.ratecard import load_rate_card
from billing.run import BillingOutcome, MonthlyBilling
from billing.statement import parse_csv, totals
from app import wiring
from viewcount.settings import Settings
from viewcount.timeutil import format_ms


def monthly_billing(settings: Settings, say: Callable[[str], None] = lambda line: None) -> MonthlyBilling:
    audit = wiring.file_store(settings, settings.audit_store)
    return MonthlyBilling(wiring.batch_views(settings), wiring.raw_store(settings), audit, wiring.audit_ledger(settings),
                          load_rate_card(settings.rate_card), settings.rules, settings.ownership_mode, say=say,
                          data_docs=wiring.data_docs(settings))


def month_closed(settings: Settings, period: Period) -> tuple[bool, str]:
    """Whether the published watermark has closed the month, and a sentence saying so."""
    closes = period.closes_at_ms(settings.max_event_age, settings.max_clock_skew)
    pointer = wiring.batch_views(settings).batch_pointer()
    if pointer is None:
        return False, f"no batch version published yet; {period} closes at W >= {format_ms(closes)}"
    closed = pointer[1] >= closes
    return closed, (f"{period} {'is closed' if closed else 'is open'}: published W {format_ms(pointer[1])}, "
                    f"closes at W >= {format_ms(closes)}")


def latest_closed_month(settings: Settings) -> Period | None:
    """The latest month the published batch watermark has closed; None before any publish."""
    pointer = wiring.batch_views(settings).batch_pointer()
    if pointer is None:
        return None
    return Period.latest_closed(pointer[1], settings.max_event_age, settings.max_clock_skew)


def summary(outcome: BillingOutcome) -> dict:
    """A run's outcome as plain JSON (what a DAG task returns)."""
    views, amount = totals(outcome.lines)
    return {"period": str(outcome.period), "batch_version": outcome.version,
            "batch_watermark": format_ms(outcome.watermark_ms),
            "planned": {"payouts": sum(e.kind == "payout" for e in outcome.planned),
                        "adjustments": sum(e.kind == "adjustment" for e in outcome.planned)},
            "written_seqs": [r["seq"] for r in outcome.written],
            "statement": outcome.statement_csv, "statement_parquet": outcome.statement_parquet,
            "rows": len(outcome.lines), "views": views, "amount": money_str(amount),
            "unassigned_views": outcome.unassigned}


def read_statement(settings: Settings, location: str) -> dict:
    """A written statement's rows and totals row, read back through the audit store."""
    audit = wiring.file_store(settings, settings.audit_store)
    relative = location[location.index("statements/"):]
    rows, total = parse_csv(audit.read(relative))
    period = relative.split("/")[1].removeprefix("period=")
    download = f"{settings.api_url}/v1/billing/{period}/statement"
    return {"statement": location, "rows": len(rows), "total": total,
            "download_csv": f"{download}.csv", "download_parquet": f"{download}.parquet"}
