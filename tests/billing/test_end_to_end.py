"""Billing on views the real batch layer computed: payouts equal the rules' counts for the month,
and after a replay corrects the month, adjustments equal exactly the change."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch_layer.job import run_batch
from batch_layer.publish import publish
from batch_layer.replay import replay_days
from batch_layer.watermark import safe_watermark
from billing.money import amount_for, money_str
from billing.period import Period
from billing.ratecard import parse_rate_card
from billing.views import read_month_views
from adapters.files.rawdata import range_files
from tests.batch_layer.test_replay import SMALL_SAMPLE_INVALID_SHARE
from tests.billing.conftest import RATE_CARD
from tests.ingestion.conftest import make_scenario  # noqa: F401  (the raw-sink scenario factory)
from app import wiring
from tests.conftest import with_ledger
from viewcount.ownership import Catalog, OwnershipMode
from viewcount.timeutil import HOUR_MS, now_ms

pytestmark = pytest.mark.integration


def bill(settings, period: Period) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env()}
    done = subprocess.run([sys.executable, "-m", "app", "billing", "run", "--period", str(period)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_payouts_follow_the_batch_views_and_a_replay_becomes_exact_adjustments(make_scenario, spark, tmp_path,
                                                                               stack_settings):
    rules = stack_settings.rules
    period = Period.latest_closed(now_ms() - HOUR_MS, rules.max_event_age_ms, rules.max_clock_skew_ms)
    # Two days of traffic across the month's end: its last day and a half, and the next month's start.
    scenario = make_scenario(events=5000, days=2, end_ms=period.end_ms + 12 * HOUR_MS, seed=11)
    scenario.run_sink(flush_records=600)
    card = tmp_path / "rates.toml"
    card.write_bytes(RATE_CARD)
    settings = with_ledger(scenario.settings, scenario.settings.raw_store + "-audit",
                           redis_prefix=f"e{uuid.uuid4().hex[:8]}", rate_card=str(card),
                           batch_max_invalid_share=SMALL_SAMPLE_INVALID_SHARE)
    serving = wiring.batch_views(settings)
    ledger = wiring.audit_ledger(settings)
    watermark = safe_watermark(scenario.store, settings.topic, [0, 1, 2])
    result = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic,
                       max_invalid_share=settings.batch_max_invalid_share)
    publish(result, serving, ledger, actor="test")

    # 1. The payouts are the rules' views of the month (truth.json), at the card's rates.
    done = bill(settings, period)
    expected = {c: m["months"][str(period)] for c, m in scenario.truth["creators"].items()
                if m["months"].get(str(period))}
    card_rates = parse_rate_card(RATE_CARD)
    payouts = {r["payload"]["creator_id"]: r["payload"] for r in ledger.records() if r["kind"] == "payout"}
    assert {c: p["views"] for c, p in payouts.items()} == expected
    assert all(p["amount"] == money_str(amount_for(p["views"], card_rates.rate_for(c))) for c, p in payouts.items())
    assert Path(done.stdout.strip().splitlines()[-1]).is_file()

    # 2. Lose a raw file holding views of the month's last day and replay that day.
    last_day = date.fromtimestamp((period.end_ms - 1) / 1000)
    for info in range_files(scenario.store, settings.topic, 1):
        days = pq.read_table(pa.BufferReader(scenario.store.read(info.path()))).column("event_time").to_pylist()
        if sum(t.date() == last_day for t in days) >= 5:
            scenario.store.delete(info.path())
            break
    else:
        pytest.fail(f"no raw file with views on {last_day}")
    no_catalog = Catalog(), OwnershipMode.FIRST_CLAIM
    old = read_month_views(scenario.store, result.version, watermark, period).divided(*no_catalog)
    report = replay_days(spark, scenario.store, serving, settings.rules, settings.topic, last_day, last_day,
                         dry_run=False, max_invalid_share=settings.batch_max_invalid_share)
    publish(report.result, serving, ledger, kind="batch_replay", actor="test")
    new = read_month_views(scenario.store, report.result.version, watermark, period).divided(*no_catalog)
    change = {c: new.by_creator.get(c, 0) - old.by_creator.get(c, 0)
              for c in set(old.by_creator) | set(new.by_creator)}
    change = {c: d for c, d in change.items() if d}
    assert change and sum(change.values()) == sum(d.delta for d in report.diffs) < 0

    # 3. The next run writes one adjustment per changed creator, for exactly the change.
    seq_before = ledger.head()["seq"]
    bill(settings, period)
    written = ledger.records_after(seq_before)
    assert all(r["kind"] == "adjustment" for r in written)
    assert {r["payload"]["creator_id"]: r["payload"]["views"] for r in written} == change
    for r in written:
        c = r["payload"]["creator_id"]
        assert r["payload"]["amount_total"] == money_str(amount_for(new.by_creator.get(c, 0), card_rates.rate_for(c)))
    # 4. And a third run writes nothing.
    seq_after = ledger.head()["seq"]
    assert "nothing new to write" in bill(settings, period).stdout
    assert ledger.head()["seq"] == seq_after and ledger.verify().records == seq_after
