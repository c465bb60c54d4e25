"""Payouts follow the owner at each view's hour (CONTRACT §7, §9), never a record's creator_id."""

from __future__ import annotations

import pytest

from catalog.exceptions import AssignmentRefused
from catalog.store import CatalogStore
from tests.billing.test_run import OCTOBER
from viewcount.timeutil import parse_rfc3339_ms

pytestmark = pytest.mark.integration


def paid(books) -> dict[str, int]:
    return {r["payload"]["creator_id"]: r["payload"]["views"] for r in books.ledger.records()
            if r["kind"] in ("payout", "adjustment")}


def test_a_transfer_mid_month_splits_that_months_payout_at_the_hour(make_books):
    books = make_books()
    books.publish(OCTOBER)        # v-creator_42: 1200 views on Oct 1, 34 on Oct 31; v-creator_7: 999 on Oct 15
    catalog = CatalogStore(books.ledger)
    catalog.assign("v-creator_42", "creator_9", parse_rfc3339_ms("2026-10-15T00:00:00Z"), actor="finance")

    done = books.cli("billing", "run", "--period", "2026-10")
    assert done.returncode == 0, done.stderr
    assert paid(books) == {"creator_42": 1200, "creator_9": 34, "creator_7": 999}
    assert "0 views unassigned" in done.stderr

    # October is billed now: moving its views again is refused, and billing again writes nothing.
    with pytest.raises(AssignmentRefused, match="2026-10 is already billed"):
        catalog.assign("v-creator_7", "creator_9", parse_rfc3339_ms("2026-10-01T00:00:00Z"))
    assert "nothing new to write" in books.cli("billing", "run", "--period", "2026-10").stdout


def test_under_catalog_ownership_unassigned_views_are_reported_not_paid(make_books):
    books = make_books()
    books.publish(OCTOBER)
    CatalogStore(books.ledger).assign("v-creator_7", "creator_7", parse_rfc3339_ms("2026-10-01T00:00:00Z"))
    done = books.cli("billing", "run", "--period", "2026-10", env={"VIEWCOUNT_OWNERSHIP": "catalog"})
    assert done.returncode == 0, done.stderr
    assert paid(books) == {"creator_7": 999}
    assert "1234 views unassigned" in done.stderr and "v-creator_42" in done.stderr
