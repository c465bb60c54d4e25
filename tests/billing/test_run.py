"""`viewcount billing run` on the real stores: payouts, statements, re-runs, adjustments, refusals."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.canonical import canonical_bytes, record_hash
from audit.ledger import record_path
from billing.exceptions import BillingChecksFailed, StaleBatchVersion
from expectations.runner import DataDocs
from app import wiring
from billing.period import Period
from billing.plan import payout_id
from billing.ratecard import parse_rate_card
from billing.run import MonthlyBilling
from tests.billing.conftest import RATE_CARD
from viewcount.timeutil import parse_rfc3339_ms

pytestmark = pytest.mark.integration

OCTOBER = {("creator_42", "2026-10-01"): 1200, ("creator_42", "2026-10-31"): 34,   # 1234 × 4.00
           ("creator_7", "2026-10-15"): 999,                                        # 999 × 2.50
           ("creator_7", "2026-11-01"): 500, ("creator_7", "2026-09-30"): 70}       # other months


def statement_bytes(books, stdout: str) -> bytes:
    location = stdout.strip().splitlines()[-1]
    relative = location.split("/statements/", 1)[1]
    return books.audit.read(f"statements/{relative}")


@pytest.mark.parametrize("store", ["local", pytest.param("hdfs", marks=pytest.mark.hdfs)])
def test_a_closed_month_is_paid_once_with_a_statement_and_a_rerun_writes_nothing(make_books, store, request):
    if store == "hdfs":
        request.getfixturevalue("hdfs")
    books = make_books(store)
    version = books.publish(OCTOBER)

    first = books.cli("billing", "run", "--period", "2026-10")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1].endswith("statements/period=2026-10/statement-2026-10-through-seq-000003.csv")
    docs = first.stdout.strip().splitlines()[-3].removeprefix("data checks: Data Docs at ")
    assert docs == wiring.data_docs(books.settings).index.as_uri() and wiring.data_docs(books.settings).index.is_file()
    payouts = [r for r in books.ledger.records() if r["kind"] == "payout"]
    assert [(r["seq"], r["payload"]["creator_id"], r["payload"]["views"], r["payload"]["amount"]) for r in payouts] \
        == [(2, "creator_42", 1234, "4.94"), (3, "creator_7", 999, "2.50")]          # 4.936 → 4.94; 2.4975 → 2.50
    assert payouts[0]["payload"]["payout_id"] == payout_id("creator_42", Period.parse("2026-10"))
    assert payouts[0]["inputs"] == {"batch_version": version, "batch_watermark": "2026-11-20T00:00:00.000Z",
                                    "raw_input_fingerprint": books.ledger.records()[0]["inputs"]["raw_input_fingerprint"],
                                    "rate_card_hash": parse_rate_card(RATE_CARD).sha256,
                                    "code_version": payouts[0]["inputs"]["code_version"]}
    assert statement_bytes(books, first.stdout).decode() == (
        "creator_id,period,views,rate_per_1000,currency,amount,payout_id,audit_seq\n"
        f"creator_42,2026-10,1234,4.00,USD,4.94,{payouts[0]['payload']['payout_id']},2\n"
        f"creator_7,2026-10,999,2.50,USD,2.50,{payouts[1]['payload']['payout_id']},3\n"
        f"(total),2026-10,2233,,USD,7.44,ledger-head:sha256:{payouts[1]['hash']},3\n")   # the ledger head
    parquet_path = first.stdout.strip().splitlines()[-2].split("/statements/", 1)[1]
    table = pq.read_table(pa.BufferReader(books.audit.read(f"statements/{parquet_path}")))
    assert table.column("amount").to_pylist() == [Decimal("4.94"), Decimal("2.50")]
    assert table.schema.field("amount").type == pa.decimal128(18, 2)
    assert table.schema.metadata == {b"viewcount.ledger_head_seq": b"3",
                                     b"viewcount.ledger_head_hash": payouts[1]["hash"].encode()}

    before = books.snapshot()
    again = books.cli("billing", "run", "--period", "2026-10")
    assert again.returncode == 0, again.stderr
    assert "nothing new to write" in again.stdout
    assert again.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]
    assert books.snapshot() == before            # the ledger and everything else, byte for byte
    assert books.cli("audit", "verify").returncode == 0


def test_after_a_replay_a_run_writes_exactly_one_adjustment_per_changed_creator(make_books):
    books = make_books()
    books.publish(OCTOBER)
    assert books.cli("billing", "run", "--period", "2026-10").returncode == 0
    replayed = {**OCTOBER, ("creator_42", "2026-10-31"): 30,       # 1230: -4 views
                ("creator_9", "2026-10-02"): 400}                  # new: a payout
    replayed.pop(("creator_7", "2026-10-15"))                        # 0: -999, the whole payout back
    version = books.publish(replayed)

    done = books.cli("billing", "run", "--period", "2026-10")
    assert done.returncode == 0, done.stderr
    new = books.ledger.records()[4:]
    assert [(r["kind"], r["payload"]["creator_id"], r["payload"]["views"], r["payload"]["amount"],
             r["payload"]["views_total"], r["payload"]["amount_total"]) for r in new] == [
        ("adjustment", "creator_42", -4, "-0.02", 1230, "4.92"),
        ("adjustment", "creator_7", -999, "-2.50", 0, "0.00"),
        ("payout", "creator_9", 400, "1.00", 400, "1.00")]
    assert all(r["inputs"]["batch_version"] == version for r in new)
    assert new[0]["payload"]["adjusts"] == payout_id("creator_42", Period.parse("2026-10"))
    rows = list(csv.DictReader(io.StringIO(statement_bytes(books, done.stdout).decode())))
    assert [(r["creator_id"], r["amount"], r["audit_seq"]) for r in rows] == [
        ("creator_42", "4.94", "2"), ("creator_42", "-0.02", "5"), ("creator_7", "2.50", "3"),
        ("creator_7", "-2.50", "6"), ("creator_9", "1.00", "7"), ("(total)", "5.92", "7")]
    # the first statement is still there, unchanged
    assert books.audit.exists("statements/period=2026-10/statement-2026-10-through-seq-000003.csv")
    assert books.cli("billing", "run", "--period", "2026-10").stdout.count("nothing new to write") == 1
    assert books.ledger.verify().records == 7


def test_an_open_month_is_refused_saying_when_it_closes(make_books):
    books = make_books()
    books.publish(OCTOBER, watermark_ms=parse_rfc3339_ms("2026-11-08T00:00:00Z"))
    before = books.snapshot()
    done = books.cli("billing", "run", "--period", "2026-10")
    assert done.returncode == 1
    assert "2026-10 is still open: it closes when the published batch watermark reaches 2026-11-08T01:00:00.000Z" \
        in done.stderr
    assert books.snapshot() == before


def _billing(books, card=RATE_CARD, data_docs: DataDocs | None = None) -> MonthlyBilling:
    return MonthlyBilling(books.serving, books.raw, books.audit, books.ledger, parse_rate_card(card),
                          books.settings.rules, data_docs=data_docs)


def test_a_failing_check_stops_the_run_before_anything_is_written_and_shows_in_data_docs(make_books, tmp_path):
    books = make_books()
    version = books.publish(OCTOBER, hourly_views={**OCTOBER, ("creator_7", "2026-10-15"): 998})  # views disagree
    before = books.snapshot()
    docs = DataDocs(tmp_path / "great_expectations")
    with pytest.raises(BillingChecksFailed, match="statement: expect_column_pair_values_to_be_equal") as failed:
        _billing(books, data_docs=docs).run(Period.parse("2026-10"))
    assert books.snapshot() == before
    assert docs.index.as_uri() in str(failed.value)
    pages = {p.parent.parent.name: p for p in (docs.site_dir / "validations").rglob("*.html")}
    assert set(pages) == {f"billing-2026-10-{version}"} and len(list((docs.site_dir / "validations").iterdir())) == 3
    assert "statement" in {p.name for p in (docs.site_dir / "validations").iterdir()}


def test_a_version_without_a_publish_record_is_not_paid_from(make_books):
    books = make_books()
    books.publish(OCTOBER)
    books.publish({("creator_7", "2026-10-15"): 5}, audited=False)
    before = books.snapshot()
    with pytest.raises(StaleBatchVersion, match="the ledger records w-test-.* as the latest published"):
        _billing(books).run(Period.parse("2026-10"))
    assert books.snapshot() == before


def test_concurrent_runs_write_one_set_of_records(make_books, tmp_path):
    books = make_books()
    books.publish({(f"creator_{i:03d}", "2026-10-10"): 100 + i for i in range(60)})
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, **books.settings.to_env()}
    runs = [subprocess.Popen([sys.executable, "-m", "tests.billing.concurrent_run", str(barrier), "3"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err.decode()[-2000:] for _, err in outputs]
    outcomes = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(o["written"] for o in outcomes) == 60, outcomes   # all three wrote at once, 60 in all
    assert len({o["statement"] for o in outcomes}) == 1          # one statement, the same for all
    payouts = [r["payload"]["creator_id"] for r in books.ledger.records() if r["kind"] == "payout"]
    assert sorted(payouts) == [f"creator_{i:03d}" for i in range(60)]       # each exactly once
    assert books.ledger.verify().records == 61


def test_concurrent_cli_runs_agree(make_books):
    books = make_books()
    books.publish({(f"creator_{i:03d}", "2026-10-10"): 100 + i for i in range(20)})
    runs = [books.cli("billing", "run", "--period", "2026-10", wait=False) for _ in range(2)]
    outputs = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    assert all(code == 0 for code, _, _ in outputs), [err.decode()[-2000:] for _, _, err in outputs]
    assert len({out.decode().strip().splitlines()[-1] for _, out, _ in outputs}) == 1
    assert books.ledger.verify().records == 21


def test_tampering_with_a_payout_record_fails_audit_verify_naming_it(make_books):
    books = make_books()
    books.publish(OCTOBER)
    assert books.cli("billing", "run", "--period", "2026-10").returncode == 0
    path = record_path(3)
    books.audit.put(path, books.audit.read(path).replace(b'"amount":"2.50"', b'"amount":"25.00"'))
    verify = books.cli("audit", "verify")
    assert verify.returncode == 1
    assert f"record 3 ({path}): hash does not match its content" in verify.stderr


@pytest.mark.parametrize("card, message", [
    (None, "VIEWCOUNT_RATE_CARD is not set"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "-2.50"\n', "non-negative decimal string"),
    (b'currency = "USD"\ndefault_rate_per_1000 = 2.5\n', "must be a decimal string"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators.creator_7]\nrate_per_1000 = "two"\n',
     "creators.creator_7.rate_per_1000"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\nbonus = "1.00"\n', "unknown key 'bonus'"),
])
def test_rate_card_errors_fail_clearly_and_write_nothing(make_books, tmp_path, card, message):
    books = make_books()
    books.publish(OCTOBER)
    path = tmp_path / "card.toml"
    if card is not None:
        path.write_bytes(card)
    before = books.snapshot()
    done = books.cli("billing", "run", "--period", "2026-10", env={"VIEWCOUNT_RATE_CARD": str(path) if card else ""})
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert books.snapshot() == before


def test_a_missing_rate_card_file_is_named(make_books, tmp_path):
    books = make_books()
    done = books.cli("billing", "run", "--period", "2026-10", env={"VIEWCOUNT_RATE_CARD": str(tmp_path / "no.toml")})
    assert done.returncode == 1 and "VIEWCOUNT_RATE_CARD: no such file" in done.stderr


def test_billing_refuses_a_ledger_rewritten_behind_its_anchor(make_books):
    books = make_books()
    books.publish(OCTOBER)
    # Whoever can write the audit store replaces the publish record, hashes recomputed: the chain
    # verifies on its own, but not against the anchor, and billing pays nothing from it.
    record = json.loads(books.audit.read(record_path(1)))
    record["inputs"]["batch_version"] = "w-forged"
    record["hash"] = record_hash(record)
    books.audit.delete(record_path(1))
    books.audit.put_new(record_path(1), canonical_bytes(record))
    before = books.snapshot()
    refused = books.cli("billing", "run", "--period", "2026-10")
    assert refused.returncode == 1
    assert "rewritten from seq 1" in refused.stderr and "the anchor topic" in refused.stderr
    assert books.snapshot() == before
