"""Creators' payouts as the API shows them, read from the audit ledger.

The ledger is the only record of what was paid; this index reads each record once (records are
immutable, so what was read stays true) and picks up new ones on the next request.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from audit.ledger import AuditLedger
from billing.money import money_str
from billing.plan import KINDS, entry_from_record


class PayoutBook:
    def __init__(self, ledger: AuditLedger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._last_seq = 0
        self._by_creator: dict[str, list[dict]] = {}

    def _catch_up(self) -> None:
        for record in self._ledger.records_after(self._last_seq):
            self._last_seq = record["seq"]
            if record.get("kind") not in KINDS:
                continue
            e = entry_from_record(record)
            item = {"payout_id": e.payout_id, "kind": e.kind, "period": str(e.period), "views": e.views,
                    "rate_per_1000": record["payload"]["rate_per_1000"], "currency": e.currency,
                    "amount": money_str(e.amount), "audit_seq": record["seq"], "created_at": record["created_at"],
                    "batch_version": record["inputs"].get("batch_version")}
            if e.adjusts:
                item["adjusts"] = e.adjusts
            self._by_creator.setdefault(e.creator_id, []).append(item)

    def for_creator(self, creator_id: str) -> dict:
        """``{"creator_id", "payouts": [...], "periods": [{"period", "currency", "views", "amount"}]}``,
        payouts and adjustments in ledger order, ``periods`` what each month comes to."""
        with self._lock:
            self._catch_up()
            items = list(self._by_creator.get(creator_id, []))
        periods: dict[tuple[str, str], list] = {}
        for item in items:
            total = periods.setdefault((item["period"], item["currency"]), [0, Decimal("0.00")])
            total[0] += item["views"]
            total[1] += Decimal(item["amount"])
        return {"creator_id": creator_id, "payouts": items,
                "periods": [{"period": p, "currency": c, "views": v, "amount": money_str(a)}
                            for (p, c), (v, a) in sorted(periods.items())]}
