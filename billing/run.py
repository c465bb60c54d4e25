"""A month's billing run, step by step (see :meth:`MonthlyBilling.run`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from audit.exceptions import HeadMoved
from audit.kinds import BATCH_PUBLISH, BATCH_REPLAY, OWNERSHIP
from audit.ledger import MAX_RACE_RETRIES, AuditLedger
from billing.checks import run_checks
from expectations.runner import DataDocs
from catalog.store import assignment_of
from billing.exceptions import BillingChecksFailed, BillingError, RateCardError, StaleBatchVersion
from billing.period import Period
from billing.plan import Entry, Paid, is_entry_of, paid_so_far, plan, plan_entry
from billing.ratecard import RateCard
from billing.statement import Line, lines_of, render_csv, render_parquet, statement_base
from billing.views import MonthViews, PublishedPointer, published_pointer, read_month_views
from viewcount import __version__
from viewcount.ownership import Assignment, Catalog, OwnershipMode
from viewcount.rules import RuleSettings
from adapters.files.base import FileStore
from viewcount.timeutil import format_ms

logger = logging.getLogger(__name__)

PUBLISH_KINDS = (BATCH_PUBLISH, BATCH_REPLAY)


@dataclass
class BillingOutcome:
    period: Period
    version: str
    watermark_ms: int
    planned: list[Entry] = field(default_factory=list)    # what the run decided to write
    written: list[dict] = field(default_factory=list)    # audit records this run appended
    lines: list[Line] = field(default_factory=list)       # the statement's rows
    statement_csv: str = ""
    statement_parquet: str = ""
    statement_written: bool = False
    unassigned: int = 0                                   # views no one owned, not paid
    data_docs: str = ""                                   # the Data Docs index that shows its checks


class _LedgerFold:
    """The ledger as billing needs it, read once and kept up to date with the records after it."""

    def __init__(self, ledger: AuditLedger, period: Period) -> None:
        self._ledger, self._period = ledger, period
        self.head: dict | None = None
        self.paid: dict[str, Paid] = {}
        self.published: str | None = None
        self.month_records: list[dict] = []   # the period's payouts and adjustments
        self.assignments: list[Assignment] = []   # the video catalog (CONTRACT §9)

    def catch_up(self) -> None:
        for record in self._ledger.records_after(self.head["seq"] if self.head else 0):
            self.add(record)

    def add(self, record: dict) -> None:
        self.head = record
        if record.get("kind") in PUBLISH_KINDS:
            self.published = record["payload"].get("version")
        if record.get("kind") == OWNERSHIP:
            self.assignments.append(assignment_of(record))
        if is_entry_of(record, self._period):
            self.month_records.append(record)
            paid_so_far([record], self._period, self.paid)

    def require_published(self, version: str) -> None:
        if self.published is None:
            raise StaleBatchVersion(f"the published batch version {version} has no publish record in the audit "
                                    f"ledger: billing pays only from audited versions")
        if self.published != version:
            raise StaleBatchVersion(f"the ledger records {self.published} as the latest published batch version, "
                                    f"not {version}: a publish happened meanwhile; run billing again")


class MonthlyBilling:
    def __init__(self, serving: PublishedPointer, raw: FileStore, audit_store: FileStore, ledger: AuditLedger,
                 rate_card: RateCard, rules: RuleSettings, ownership: OwnershipMode = OwnershipMode.FIRST_CLAIM,
                 actor: str | None = None, say: Callable[[str], None] = lambda line: None,
                 data_docs: DataDocs | None = None) -> None:
        """``data_docs``: the Great Expectations project that keeps the checks' results and shows
        them in its Data Docs (none: the checks run in a throwaway context)."""
        self._serving, self._raw, self._audit_store, self._ledger = serving, raw, audit_store, ledger
        self._rate_card, self._rules, self._ownership = rate_card, rules, ownership
        self._actor, self._say, self._data_docs = actor, say, data_docs

    def run(self, period: Period, write: bool = True) -> BillingOutcome:
        """Bill the month; with ``write=False`` stop after the checks (a dry run: nothing written)."""
        # 1. The published batch version; its watermark must have closed the month.
        version, watermark = published_pointer(self._serving)
        period.require_closed(watermark, self._rules.max_event_age_ms, self._rules.max_clock_skew_ms)
        self._say(f"[1/7] {period} is closed at the published watermark {format_ms(watermark)} ({version})")

        # 2. The month's views from that version's files: batch views only, never the speed layer.
        month = read_month_views(self._raw, version, watermark, period)
        self._say(f"[2/7] {month.hourly_total} views of {len(month.first_claims)} videos in {period}")

        # 3. The ledger so far: what each creator has been paid for the month, and the video
        #    catalog that divides the month's views among owners at each view's event hour; the
        #    version read must be the last one the ledger records as published.
        #    Before anything is paid from it, the ledger must verify, and match its anchor.
        verified = self._verify_ledger()
        fold = _LedgerFold(self._ledger, period)
        fold.catch_up()
        fold.require_published(version)
        self._require_one_currency(fold.paid)
        month = month.divided(Catalog(fold.assignments), self._ownership)
        catalog_size = len(fold.assignments)
        self._say(f"[3/7] ledger at seq {fold.head['seq'] if fold.head else 0} ({verified}); "
                  f"{len(fold.paid)} creators already paid for {period}; {len(month.by_creator)} owners, "
                  f"{month.unassigned} views unassigned ({catalog_size} catalog assignments, "
                  f"OWNERSHIP={self._ownership.value})")
        if month.unassigned:
            logger.warning("%s: %d views of %d videos have no owner and are not paid: %s", period,
                           month.unassigned, len(month.unassigned_videos),
                           ", ".join(sorted(month.unassigned_videos)[:20]))

        # 4. What the month needs now: payouts for the unpaid, adjustments where the views moved.
        planned = plan(month.by_creator, fold.paid, self._rate_card, period, version)
        self._warn_about_rate_changes(fold.paid)
        self._say(f"[4/7] {sum(e.kind == 'payout' for e in planned)} payouts and "
                  f"{sum(e.kind == 'adjustment' for e in planned)} adjustments to write")

        # 5. Checks over the month as it will stand; a failure stops the run with nothing written.
        after = lines_of(fold.month_records, period) + [Line(e, 0) for e in planned]
        checks = run_checks(month, [line.entry for line in after], render_csv(period, after), self._data_docs,
                            f"billing-{period}-{version}")
        docs = f"; Data Docs: {self._data_docs.index.as_uri()}" if self._data_docs else ""
        if not all(c.success for c in checks):
            from expectations.runner import describe_failed

            raise BillingChecksFailed(f"data checks failed, nothing written: {describe_failed(checks)}{docs}")
        self._say(f"[5/7] data checks passed: {', '.join(c.name for c in checks)}{docs}")
        outcome = BillingOutcome(period, version, watermark, planned, unassigned=month.unassigned,
                                 data_docs=self._data_docs.index.as_uri() if self._data_docs else "")
        if not write:
            return outcome

        # 6. Append each record. Each is decided against the ledger head it is written after, so
        #    two runs at once write every record once: the loser of a race reads the winner's
        #    record and finds nothing left to do.
        inputs = self._inputs(month)
        for entry in planned:
            record = self._append(fold, entry.creator_id, month, inputs, catalog_size)
            if record is not None:
                outcome.written.append(record)
        self._say(f"[6/7] {len(outcome.written)} audit records written"
                  + (f" (last seq {outcome.written[-1]['seq']})" if outcome.written else ""))

        # 7. The statement, from the ledger as it now stands; written once under its last seq.
        fold.catch_up()
        outcome.lines = lines_of(fold.month_records, period)
        self._write_statement(outcome, checks)
        self._say(f"[7/7] statement {'written' if outcome.statement_written else 'unchanged'}: "
                  f"{len(outcome.lines)} rows")
        return outcome

    # --- the steps' parts ---------------------------------------------------------------------
    def _verify_ledger(self) -> str:
        if self._ledger.anchor is None:
            return f"{self._ledger.verify().records} records verified, no anchor"
        report = self._ledger.verify_anchored()
        return f"{report.records} records verified against {self._ledger.anchor.name}"

    def _inputs(self, month: MonthViews) -> dict:
        return {"batch_version": month.version, "batch_watermark": format_ms(month.watermark_ms),
                "raw_input_fingerprint": month.raw_input_fingerprint,
                "rate_card_hash": self._rate_card.sha256, "code_version": __version__}

    def _append(self, fold: _LedgerFold, creator_id: str, month: MonthViews, inputs: dict,
                catalog_size: int) -> dict | None:
        for _ in range(MAX_RACE_RETRIES):
            fold.require_published(month.version)
            if len(fold.assignments) != catalog_size:
                raise BillingError(f"the video catalog changed during this run (now {len(fold.assignments)} "
                                   f"assignments, {catalog_size} when the month was divided): run billing again")
            entry = plan_entry(creator_id, month.by_creator.get(creator_id, 0), fold.paid.get(creator_id),
                               self._rate_card, month.period, month.version)
            if entry is None:
                logger.info("%s %s: already in the ledger (a concurrent run wrote it)", creator_id, month.period)
                return None
            try:
                record = self._ledger.append_after(fold.head, entry.kind, entry.payload(), inputs, self._actor)
            except HeadMoved:
                fold.catch_up()
                continue
            fold.add(record)
            return record
        raise BillingError(f"could not append {creator_id}'s record after {MAX_RACE_RETRIES} races")

    def _require_one_currency(self, paid: dict[str, Paid]) -> None:
        other = sorted({p.currency for p in paid.values()} - {self._rate_card.currency})
        if other:
            raise RateCardError(f"this month was paid in {other[0]}; the rate card's currency is "
                                f"{self._rate_card.currency} (one currency per month)")

    def _warn_about_rate_changes(self, paid: dict[str, Paid]) -> None:
        for creator_id, p in sorted(paid.items()):
            if self._rate_card.rate_for(creator_id) != p.rate_per_1000:
                logger.warning("%s: the rate card now says %s per 1000, the month was paid at %s; adjustments "
                               "keep the paid rate", creator_id, self._rate_card.rate_for(creator_id), p.rate_per_1000)

    def _write_statement(self, outcome: BillingOutcome, checks: list) -> None:
        base = statement_base(outcome.period, outcome.lines)
        report = json.dumps([{"name": c.name, "success": c.success, "results": c.results} for c in checks],
                            indent=1, sort_keys=True).encode()
        written = [self._audit_store.put_new(f"{base}.parquet", render_parquet(outcome.lines)),
                   self._audit_store.put_new(f"{base}.checks.json", report),
                   self._audit_store.put_new(f"{base}.csv", render_csv(outcome.period, outcome.lines))]
        outcome.statement_written = any(written)
        outcome.statement_csv = location(self._audit_store, f"{base}.csv")
        outcome.statement_parquet = location(self._audit_store, f"{base}.parquet")


def location(store: FileStore, path: str) -> str:
    """Where a user finds a file: a local path for ``file://`` stores, else the store URL."""
    url = f"{store.url.rstrip('/')}/{path}"
    parts = urlsplit(url)
    return unquote(parts.path) if parts.scheme == "file" else url
