"""`GET /v1/creators/{id}/payouts`: a creator's payouts and adjustments from the audit ledger; and
`GET /v1/billing/{period}/statement.{csv,parquet}`: the month's statement, for the admin token only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from billing.payouts import PayoutBook
from billing.period import Period
from billing.ratecard import parse_rate_card
from billing.run import MonthlyBilling
from billing.statement import StatementShelf
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
                     books.settings.topic, payouts=PayoutBook(books.ledger), statements=StatementShelf(books.audit))
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


def test_finance_downloads_the_latest_statement_with_the_admin_token(billed):
    import io

    import pyarrow.parquet as pq

    books, bill, client = billed
    first = get(client, "/v1/billing/2026-10/statement.csv", ADMIN)
    assert first.status_code == 200 and first.headers["content-type"] == "text/csv; charset=utf-8"
    name = "statement-2026-10-through-seq-000003.csv"
    assert first.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert first.content == books.audit.read(f"statements/period=2026-10/{name}")

    books.publish({**OCTOBER, ("creator_42", "2026-10-01"): 1230})   # a replay: the re-run adjusts
    bill()
    csv = get(client, "/v1/billing/2026-10/statement.csv", ADMIN)
    assert csv.headers["content-disposition"] == 'attachment; filename="statement-2026-10-through-seq-000005.csv"'
    head = books.ledger.records()[4]
    assert csv.text.splitlines()[-1] == f"(total),2026-10,2229,,USD,7.42,ledger-head:sha256:{head['hash']},5"
    parquet = get(client, "/v1/billing/2026-10/statement.parquet", ADMIN)
    assert parquet.status_code == 200 and parquet.headers["content-type"] == "application/vnd.apache.parquet"
    rows = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert [(r["creator_id"], r["kind"], r["views"], str(r["amount"]), r["audit_seq"]) for r in rows] == [
        ("creator_42", "payout", 1234, "4.94", 2), ("creator_42", "adjustment", -4, "-0.02", 5),
        ("creator_7", "payout", 999, "2.50", 3)]


def test_a_statement_is_not_for_creators_nor_for_months_not_billed(billed):
    _, _, client = billed
    path = "/v1/billing/2026-10/statement.csv"
    assert get(client, path, None).status_code == 401
    creator = get(client, path, KEYS["creator_42"])
    assert creator.status_code == 403 and creator.json()["error"] == "forbidden"
    assert get(client, "/v1/billing/2026-09/statement.csv", ADMIN).json() == {
        "error": "not_found", "detail": "2026-09 has not been billed"}
    assert get(client, "/v1/billing/2026-13/statement.csv", ADMIN).status_code == 422
    assert get(client, "/v1/billing/0000-01/statement.parquet", ADMIN).status_code == 422
    assert get(client, "/v1/billing/2026-10/statement.xlsx", ADMIN).status_code == 404


def test_a_statement_store_that_is_down_answers_503_not_a_bad_month(billed):
    from adapters.files.exceptions import StoreUnavailable

    books, _, _ = billed

    class Down:
        def latest(self, period, fmt):
            raise StoreUnavailable("WebHDFS did not answer")

    app = create_app(wiring.serving_reader(books.settings), Authenticator(ADMIN, {}), None, books.settings.topic,
                     statements=Down())
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = get(client, "/v1/billing/2026-10/statement.csv", ADMIN)
    assert answer.status_code == 503, answer.text
