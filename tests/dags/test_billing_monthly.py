"""viewcount_billing_monthly, run with dag.test(): the same statement as the CLI on the same data."""

from __future__ import annotations

import pytest

from tests.billing.conftest import make_books  # noqa: F401  (the billing scenario factory)
from tests.billing.test_run import OCTOBER

pytestmark = pytest.mark.integration


def test_a_manual_run_for_a_past_month_writes_the_statement_the_cli_writes(make_books, run_dag):
    by_dag, by_cli = make_books(), make_books()
    by_dag.publish(OCTOBER)
    by_cli.publish(OCTOBER)

    run = run_dag("viewcount_billing_monthly", by_dag.settings, {"period": "2026-10"})
    assert run["state"] == "success", run["log"][-4000:]
    tasks = run["tasks"]
    assert tasks["resolve_period"]["output"] == "2026-10"
    assert tasks["checks"]["output"]["planned"] == {"payouts": 2, "adjustments": 0}
    assert tasks["bill"]["output"]["written_seqs"] == [2, 3]
    assert tasks["statement"]["output"]["total"]["amount"] == "7.44"

    cli = by_cli.cli("billing", "run", "--period", "2026-10")
    assert cli.returncode == 0, cli.stderr
    name = "statements/period=2026-10/statement-2026-10-through-seq-000003.csv"
    assert tasks["bill"]["output"]["statement"].endswith(name)
    # the same statement, each carrying the head of its own ledger (seq 3, that ledger's hash)
    for books in (by_dag, by_cli):
        total = books.audit.read(name).decode().splitlines()[-1]
        assert total.endswith(f",ledger-head:sha256:{books.ledger.records()[2]['hash']},3")
    assert by_dag.audit.read(name).rsplit(b"ledger-head", 1)[0] == by_cli.audit.read(name).rsplit(b"ledger-head", 1)[0]
    payloads = lambda books: [(r["kind"], r["payload"]) for r in books.ledger.records()[1:]]  # noqa: E731
    assert payloads(by_dag) == payloads(by_cli)
    print(f"viewcount_billing_monthly ran in {run['seconds']} s")


def test_the_sensor_condition_is_the_contracts_closed_month(make_books):
    from app.billing_operations import month_closed
    from billing.period import Period

    books = make_books()
    books.publish(OCTOBER)   # W 2026-11-20T00:00Z
    assert month_closed(books.settings, Period.parse("2026-10")) == (
        True, "2026-10 is closed: published W 2026-11-20T00:00:00.000Z, closes at W >= 2026-11-08T01:00:00.000Z")
    closed, why = month_closed(books.settings, Period.parse("2026-11"))
    assert not closed and why.endswith("closes at W >= 2026-12-08T01:00:00.000Z")
