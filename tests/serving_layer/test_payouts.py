"""`GET /v1/creators/{id}/payouts`: a creator's payouts and adjustments from the audit ledger."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from billing.payouts import PayoutBook
from billing.period import Period
from billing.ratecard import parse_rate_card
from billing.run import MonthlyBilling
from serving_layer.app import create_app
from serving_layer.auth import Authenticator, key_digest
from tests.billing.conftest import RATE_CARD, make_books  # noqa: F401  (the billing scenario factory)
from app import wiring

pytestmark = pytest.mark.integration

ADMIN = "admin-payouts-token-of-thirty-two-chars"
KEYS = {"creator_42": "key-42", "creator_7": "key-7", "creator_1": "key-1"}
OCTOBER = {("creator_42", "2026-10-01"): 1234, ("creator_7", "2026-10-15"): 999}


@pytest.fixture
def billed(make_books):
    books = make_books()
    books.publish(OCTOBER)
    bill = lambda: MonthlyBilling(books.serving, books.raw, books.audit, books.ledger,  # noqa: E731
                                  parse_rate_card(RATE_CARD), books.settings.rules).run(Period.parse("2026-10"))
    bill()
    app = create_app(wiring.serving_reader(books.settings),
                     Authenticator(ADMIN, {key_digest(k): c for c, k in KEYS.items()}), None,
                     books.settings.topic, payouts=PayoutBook(books.ledger))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield books, bill, client


def get(client, path, token):
    return client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})


def test_a_creator_sees_its_payouts_and_later_adjustments_with_audit_seqs(billed):
    books, bill, client = billed
    first = get(client, "/v1/creators/creator_42/payouts", KEYS["creator_42"])
    assert first.status_code == 200
    body = first.json()
    assert [(p["kind"], p["period"], p["views"], p["amount"], p["audit_seq"]) for p in body["payouts"]] == [
        ("payout", "2026-10", 1234, "4.94", 2)]
    assert body["periods"] == [{"period": "2026-10", "currency": "USD", "views": 1234, "amount": "4.94"}]

    books.publish({**OCTOBER, ("creator_42", "2026-10-01"): 1230})
    bill()
    body = get(client, "/v1/creators/creator_42/payouts", KEYS["creator_42"]).json()
    assert [(p["kind"], p["views"], p["amount"], p["audit_seq"]) for p in body["payouts"]] == [
        ("payout", 1234, "4.94", 2), ("adjustment", -4, "-0.02", 5)]
    assert body["payouts"][1]["adjusts"] == body["payouts"][0]["payout_id"]
    assert body["periods"] == [{"period": "2026-10", "currency": "USD", "views": 1230, "amount": "4.92"}]
    ledger = {r["seq"]: r for r in books.ledger.records()}
    assert all(ledger[p["audit_seq"]]["payload"]["payout_id"] == p["payout_id"] for p in body["payouts"])


def test_the_same_auth_rules_as_the_other_routes(billed):
    _, _, client = billed
    other = get(client, "/v1/creators/creator_42/payouts", KEYS["creator_7"])
    unknown = get(client, "/v1/creators/nobody/payouts", KEYS["creator_7"])
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()
    assert get(client, "/v1/creators/creator_42/payouts", None).status_code == 401
    assert get(client, "/v1/creators/creator_42/payouts", "wrong").headers["WWW-Authenticate"] == "Bearer"
    assert get(client, "/v1/creators/bad%2Fid/payouts", ADMIN).status_code in (404, 422)
    assert get(client, "/v1/creators/bad.id/payouts", ADMIN).status_code == 422
    admin = get(client, "/v1/creators/creator_7/payouts", ADMIN).json()
    assert [(p["views"], p["amount"]) for p in admin["payouts"]] == [(999, "2.50")]
    assert get(client, "/v1/creators/creator_1/payouts", KEYS["creator_1"]).json() == {
        "creator_id": "creator_1", "payouts": [], "periods": []}


def test_metrics_say_how_old_the_published_batch_is(billed):
    import time

    from tests.billing.conftest import CLOSED_W

    _, _, client = billed
    line = next(line for line in client.get("/metrics").text.splitlines()
                if line.startswith("viewcount_batch_watermark_age_seconds "))
    assert abs(float(line.split()[1]) - (time.time() - CLOSED_W / 1000)) < 60
