"""The month's statement (CONTRACT §7): every payout and adjustment of the period with its audit
sequence number, as CSV (with a totals row) and as Parquet (typed, without it).

The statement is named after the last audit record it lists, and written once: a re-run that
adds nothing to the ledger finds its statement already there and writes nothing.

Each statement carries the ledger head it was made through: the seq and hash of the last record
it lists (the CSV's totals row holds them in ``audit_seq`` and ``payout_id``, the Parquet file in
its key-value metadata). The hash pins every record before it, so finance can check a statement
against the ledger, and the ledger against its anchor, long after it was sent.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from adapters.files.base import FileStore
from billing.money import money_str, rate_str
from billing.period import Period
from billing.plan import Entry, entry_from_record, is_entry_of

COLUMNS = ["creator_id", "period", "views", "rate_per_1000", "currency", "amount", "payout_id", "audit_seq"]
TOTAL_LABEL = "(total)"  # parentheses cannot occur in a creator id, so the totals row is unambiguous
ROOT = "statements"


HEAD_PREFIX = "ledger-head:sha256:"


@dataclass(frozen=True)
class Line:
    entry: Entry
    audit_seq: int
    audit_hash: str = ""   # empty for an entry not yet written


def ledger_head(lines: list[Line]) -> tuple[int, str] | None:
    """``(seq, hash)`` of the last record the statement lists."""
    written = [line for line in lines if line.audit_hash]
    return max((line.audit_seq, line.audit_hash) for line in written) if written else None


def lines_of(records: Iterable[dict], period: Period) -> list[Line]:
    """The period's payouts and adjustments, by creator and then in ledger order."""
    out = [Line(entry_from_record(r), r["seq"], r["hash"]) for r in records if is_entry_of(r, period)]
    return sorted(out, key=lambda line: (line.entry.creator_id, line.audit_seq))


def totals(lines: list[Line]) -> tuple[int, Decimal]:
    return sum(line.entry.views for line in lines), sum((line.entry.amount for line in lines), Decimal("0.00"))


def render_csv(period: Period, lines: list[Line]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        e = line.entry
        writer.writerow([e.creator_id, str(e.period), e.views, rate_str(e.rate_per_1000), e.currency,
                         money_str(e.amount), e.payout_id, line.audit_seq])
    views, amount = totals(lines)
    currency = lines[0].entry.currency if lines else ""
    head = ledger_head(lines)
    writer.writerow([TOTAL_LABEL, str(period), views, "", currency, money_str(amount),
                     f"{HEAD_PREFIX}{head[1]}" if head else "", head[0] if head else ""])
    return out.getvalue().encode()


def render_parquet(lines: list[Line]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("creator_id", pa.string()), ("period", pa.string()), ("views", pa.int64()),
                        ("rate_per_1000", pa.decimal128(15, 6)), ("currency", pa.string()),
                        ("amount", pa.decimal128(18, 2)), ("payout_id", pa.string()), ("audit_seq", pa.int64()),
                        ("kind", pa.string()), ("adjusts", pa.string())])
    table = pa.Table.from_pylist([{
        "creator_id": line.entry.creator_id, "period": str(line.entry.period), "views": line.entry.views,
        "rate_per_1000": line.entry.rate_per_1000, "currency": line.entry.currency, "amount": line.entry.amount,
        "payout_id": line.entry.payout_id, "audit_seq": line.audit_seq, "kind": line.entry.kind,
        "adjusts": line.entry.adjusts} for line in lines], schema=schema)
    head = ledger_head(lines)
    if head:
        table = table.replace_schema_metadata({"viewcount.ledger_head_seq": str(head[0]),
                                               "viewcount.ledger_head_hash": head[1]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def statement_base(period: Period, lines: list[Line]) -> str:
    """``statements/period=YYYY-MM/statement-YYYY-MM-through-seq-NNNNNN`` (no extension)."""
    last = max((line.audit_seq for line in lines), default=0)
    return f"{ROOT}/period={period}/statement-{period}-through-seq-{last:06d}"


def parse_csv(data: bytes) -> tuple[list[dict], dict | None]:
    """The rows and the totals row of a rendered statement (for the checks and for readers)."""
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    total = rows[-1] if rows and rows[-1]["creator_id"] == TOTAL_LABEL else None
    return (rows[:-1] if total else rows), total


FORMATS = ("csv", "parquet")


class StatementShelf:
    """The statements written to the audit store, as finance downloads them: for a month, the
    latest one (the one through the highest audit sequence number), in either format."""

    def __init__(self, store: FileStore) -> None:
        self._store = store

    def latest(self, period: str, fmt: str) -> tuple[str, bytes] | None:
        """``(file name, bytes)`` of the month's latest statement in ``fmt`` (one of
        :data:`FORMATS`), or None when the month has not been billed. Raises :class:`PeriodError`
        for a malformed month."""
        if fmt not in FORMATS:
            raise ValueError(f"no statement format {fmt!r}; expected one of {FORMATS}")
        period = str(Period.parse(period))
        name = re.compile(rf"statement-{period}-through-seq-(\d{{6}})\.{fmt}", re.ASCII)
        found = [(int(match.group(1)), f.path) for f in self._store.list(f"{ROOT}/period={period}")
                 if (match := name.fullmatch(posixpath.basename(f.path)))]
        if not found:
            return None
        path = max(found)[1]
        return posixpath.basename(path), self._store.read(path)
