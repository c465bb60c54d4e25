"""`viewcount ingest compact`: the small files of closed ingest hours merged, every record kept
once, the batch views unchanged, each merge audited once even when the run is killed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from adapters.files.rawdata import range_files
from app import wiring
from audit.kinds import RAW_COMPACTION
from audit.ledger import AuditLedger
from batch_layer.holes import find_holes
from batch_layer.job import run_batch
from batch_layer.watermark import safe_watermark
from ingestion.compact import Compactor, plan
from tests.conftest import collected, with_ledger
from tests.ingestion.conftest import rows
from viewcount.failpoints import COMPACT_POINTS
from viewcount.rawdata import QUARANTINE_ROOT, VIEWS_ROOT, overlaps
from viewcount.timeutil import HOUR_MS, format_ms

pytestmark = pytest.mark.integration

PARTITIONS = [0, 1, 2]


def records(store) -> dict[str, dict[tuple[int, int], dict]]:
    """Every stored record by root and (partition, offset), read once however many files hold it."""
    return {root: {(r["partition"], r["offset"]): r for r in rows(store, root)} for root in (VIEWS_ROOT, QUARANTINE_ROOT)}


def stored_twice(store) -> int:
    return sum(len(rows(store, root)) for root in (VIEWS_ROOT, QUARANTINE_ROOT)) - \
        sum(len(found) for found in records(store).values())


def small_files(make_scenario):
    scenario = make_scenario(events=1200, days=0.25)
    scenario.run_sink(flush_records=40)          # many small files in each hour
    return scenario, safe_watermark(scenario.store, scenario.settings.topic, PARTITIONS)


def test_closed_hours_are_merged_and_every_record_and_view_stays(make_scenario, spark, tmp_path):
    scenario, watermark = small_files(make_scenario)
    store, topic, rules = scenario.store, scenario.settings.topic, scenario.settings.rules
    before = records(store)
    files_before = range_files(store, topic)
    open_hours = [f for f in files_before if f.hour_ms + HOUR_MS > watermark]
    exact = run_batch(spark, store, rules, watermark, topic, write=False, max_invalid_share=0.5)

    planned = plan(store, topic, watermark)
    assert planned.merges and not planned.leftovers and not planned.skipped
    ledger = AuditLedger(wiring.file_store(scenario.settings, (tmp_path / "audit").as_uri()))
    report = Compactor(store, ledger).run(planned)

    files = range_files(store, topic)
    assert report.replaced == planned.files_replaced and report.merged == len(planned.merges)
    assert len(files) == len(files_before) - report.replaced + report.merged
    assert [f for f in files if f.hour_ms + HOUR_MS > watermark] == open_hours       # open hours untouched
    closed = [(f.partition, f.hour_ms) for f in files if f.hour_ms + HOUR_MS <= watermark]
    assert len(closed) == len(set(closed))           # one file per partition and closed hour
    assert records(store) == before and stored_twice(store) == 0
    assert find_holes(store, topic, PARTITIONS) == [] and overlaps(files) == []
    again = run_batch(spark, store, rules, watermark, topic, write=False, max_invalid_share=0.5)
    assert collected(again) == collected(exact) and again.outcomes == exact.outcomes

    audited = ledger.records()
    assert [r["kind"] for r in audited] == [RAW_COMPACTION] * len(planned.merges) and ledger.verify().records == len(audited)
    first = audited[0]["payload"]
    assert first["merged"]["views"]["path"] == planned.merges[0].target.path()
    assert len([d for d in first["replaced"] if d["path"].startswith(VIEWS_ROOT)]) == len(planned.merges[0].parts)
    assert plan(store, topic, watermark).merges == []         # done: a second run finds nothing


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "ingest", "compact", *args], capture_output=True, text=True,
                          env={**os.environ, **settings.to_env()}, timeout=300)


@pytest.mark.parametrize("failpoint", COMPACT_POINTS)
def test_a_compaction_killed_at_each_step_is_finished_once_by_the_next_run(make_scenario, spark, failpoint):
    scenario, watermark = small_files(make_scenario)
    store, topic = scenario.store, scenario.settings.topic
    settings = with_ledger(scenario.settings, scenario.settings.raw_store + "-audit")
    before = records(store)
    planned = plan(store, topic, watermark)
    assert len(planned.merges) > 1

    def batch():
        return run_batch(spark, store, settings.rules, watermark, topic, write=False, max_invalid_share=0.5)

    exact = batch() if failpoint == "compact.written" else None
    killed = cli(settings.replace(failpoints=failpoint), "--before", format_ms(watermark))
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert records(store) == before and stored_twice(store) > 0      # the first merge's records, twice
    if exact is not None:     # meanwhile the batch reads each of them once
        during = batch()
        assert collected(during) == collected(exact) and during.outcomes == exact.outcomes

    finished = cli(settings, "--before", format_ms(watermark))
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "1 left by an interrupted run" in finished.stdout
    assert records(store) == before and stored_twice(store) == 0
    assert {f.path() for f in range_files(store, topic) if f.hour_ms + HOUR_MS <= watermark} >= \
        {m.target.path() for m in planned.merges}
    audited = [r for r in wiring.audit_ledger(settings).records() if r["kind"] == RAW_COMPACTION]
    merged = [r["payload"]["merged"]["views"]["path"] for r in audited]
    assert sorted(merged) == sorted(m.target.path() for m in planned.merges)      # each exactly once
