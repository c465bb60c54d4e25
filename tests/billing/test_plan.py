"""What a run writes, decided from views and the ledger: payouts, nothing, or adjustments."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.money import amount_for
from billing.period import Period
from billing.plan import ADJUSTMENT, PAYOUT, adjustment_id, paid_so_far, payout_id, plan
from billing.ratecard import parse_rate_card

P = Period.parse("2026-10")
CARD = parse_rate_card(b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators.c2]\nrate_per_1000 = "4.125"\n')


def as_records(entries, start_seq=1):
    return [{"seq": start_seq + i, "kind": e.kind, "payload": e.payload()} for i, e in enumerate(entries)]


def test_first_run_pays_each_creator_with_views_once():
    entries = plan({"c1": 1000, "c2": 333, "c3": 0}, {}, CARD, P, "v1")
    assert [(e.kind, e.creator_id, e.views, e.amount) for e in entries] == [
        (PAYOUT, "c1", 1000, Decimal("2.50")), (PAYOUT, "c2", 333, Decimal("1.37"))]  # 1.373625
    assert entries[0].payout_id == payout_id("c1", P) and entries[0].payout_id.startswith("po-2026-10-")
    payload = entries[1].payload()
    assert payload["rate_per_1000"] == "4.125" and payload["amount"] == "1.37" and payload["currency"] == "USD"


def test_ids_are_deterministic_and_distinct():
    assert payout_id("c1", P) == payout_id("c1", P) != payout_id("c1", Period.parse("2026-11"))
    assert adjustment_id("c1", P, "v2", 10, 12) != adjustment_id("c1", P, "v3", 10, 12)


def test_same_views_again_plan_nothing():
    first = plan({"c1": 1000, "c2": 333}, {}, CARD, P, "v1")
    assert plan({"c1": 1000, "c2": 333}, paid_so_far(as_records(first), P), CARD, P, "v2") == []


def test_changed_views_plan_one_adjustment_each_at_the_paid_rate():
    first = plan({"c1": 1000, "c2": 333}, {}, CARD, P, "v1")
    newer_card = parse_rate_card(b'currency = "USD"\ndefault_rate_per_1000 = "9.00"\n')
    adj = plan({"c1": 1003, "c2": 0}, paid_so_far(as_records(first), P), newer_card, P, "v2")
    assert [(e.kind, e.creator_id, e.views, e.amount, e.adjusts) for e in adj] == [
        (ADJUSTMENT, "c1", 3, Decimal("0.01"), first[0].payout_id),        # 2.5075 → 2.51, paid 2.50
        (ADJUSTMENT, "c2", -333, Decimal("-1.37"), first[1].payout_id)]
    assert adj[1].payload()["amount"] == "-1.37" and adj[1].payload()["views_total"] == 0


def test_other_periods_in_the_ledger_are_ignored():
    october = plan({"c1": 1000}, {}, CARD, P, "v1")
    november = Period.parse("2026-11")
    assert [e.kind for e in plan({"c1": 1000}, paid_so_far(as_records(october), november), CARD, november, "v1")] \
        == [PAYOUT]


@given(st.lists(st.dictionaries(st.sampled_from(["c1", "c2", "c3"]), st.integers(0, 10**9)), min_size=1, max_size=6))
def test_any_sequence_of_corrections_pays_exactly_the_last_views_at_the_paid_rate(versions):
    records: list[dict] = []
    for i, views in enumerate(versions):
        records += as_records(plan(views, paid_so_far(records, P), CARD, P, f"v{i}"), len(records) + 1)
    paid = paid_so_far(records, P)
    final = versions[-1]
    for creator in set(final) | set(paid):
        n = final.get(creator, 0)
        if creator not in paid:
            assert n == 0
            continue
        assert paid[creator].views == n
        assert paid[creator].amount == amount_for(n, CARD.rate_for(creator))
        assert type(paid[creator].amount) is Decimal
    assert plan(final, paid, CARD, P, "again") == []
    for r in records:
        assert all(not isinstance(v, float) for v in r["payload"].values())
