"""viewcount_batch_hourly and viewcount_replay, run with dag.test() on the real stack: the hourly
DAG publishes the numbers the batch job computes at the same W; the replay DAG reports what the
replay computes, changes nothing when dry, and publishes an audited replay when not."""

from __future__ import annotations

import uuid
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch_layer.job import run_batch
from batch_layer.versions import load_result
from batch_layer.replay import replay_days
from batch_layer.watermark import safe_watermark
from adapters.files.rawdata import range_files
from tests.batch_layer.test_replay import SMALL_SAMPLE_INVALID_SHARE
from tests.ingestion.conftest import make_scenario  # noqa: F401  (the raw-sink scenario factory)
from app import wiring
from tests.conftest import collected, with_ledger
from viewcount.timeutil import format_ms

pytestmark = pytest.mark.integration


def test_hourly_batch_then_replay_dry_and_real(make_scenario, run_dag, spark):
    scenario = make_scenario(events=4000, days=2)
    scenario.run_sink(flush_records=700)
    settings = with_ledger(scenario.settings, scenario.settings.raw_store + "-audit",
                           redis_prefix=f"d{uuid.uuid4().hex[:8]}",
                           batch_max_invalid_share=SMALL_SAMPLE_INVALID_SHARE)
    serving, ledger = wiring.batch_views(settings), wiring.audit_ledger(settings)
    watermark = safe_watermark(scenario.store, settings.topic, [0, 1, 2])

    # 1. A manual hourly run triggered at 17 min 42 s past W publishes at W (floored to the hour),
    #    what the batch job computes at W.
    triggered = format_ms(watermark + 17 * 60_000 + 42_000).replace("Z", "+00:00")
    hourly = run_dag("viewcount_batch_hourly", settings, logical_date=triggered)
    assert hourly["state"] == "success", hourly["log"][-4000:]
    published = hourly["tasks"]["publish"]["output"]
    assert published["published"] and serving.batch_pointer() == (published["version"], watermark)
    by_dag = load_result(scenario.store, published["version"])
    by_job = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic,
                       max_invalid_share=settings.batch_max_invalid_share, write=False)
    assert collected(by_dag) == collected(by_job)
    assert [r["kind"] for r in ledger.records()] == ["batch_publish"]
    assert hourly["asset_events"] == [{"task_id": "publish", "uri": "viewcount://batch/views", "extra": {
        "version": published["version"], "watermark": format_ms(watermark)}}]   # billing on publish runs on it

    # 2. A rule setting is corrected; the dry replay DAG reports the difference the replay
    #    computes under it, and changes nothing.
    files = range_files(scenario.store, settings.topic, 1)
    sample = files[len(files) // 2].path()
    day = Counter(str(t.date()) for t in pq.read_table(pa.BufferReader(scenario.store.read(sample)))
                  .column("event_time").to_pylist()).most_common(1)[0][0]
    settings = settings.replace(min_watch_ms=45_000)   # a rule setting corrected: replayed days lose views
    before = ({f.path for f in scenario.store.walk("batch")}, [r["hash"] for r in ledger.records()])
    dry = run_dag("viewcount_replay", settings, {"from": day, "to": day})
    assert dry["state"] == "success", dry["log"][-4000:]
    report = dry["tasks"]["replay"]["output"]
    assert report["dry_run"] and report["diffs"] and report["net_views"] < 0
    assert dry["tasks"]["publish"]["state"] == "skipped" and dry["tasks"]["publish"]["output"] is None
    assert dry["asset_events"] == []      # nothing published, so nothing to bill anew
    assert serving.batch_pointer() == (published["version"], watermark)
    assert ({f.path for f in scenario.store.walk("batch")}, [r["hash"] for r in ledger.records()]) == before
    from datetime import date
    expected = replay_days(spark, scenario.store, serving, settings.rules, settings.topic, date.fromisoformat(day),
                           date.fromisoformat(day), dry_run=True, max_invalid_share=settings.batch_max_invalid_share)
    assert [(d["day"], d["video_id"], d["delta"]) for d in report["diffs"]] == \
        [(d.day, d.video_id, d.delta) for d in expected.diffs]

    # 3. Not dry: a new version, published and audited as a replay.
    real = run_dag("viewcount_replay", settings, {"from": day, "to": day, "dry_run": False})
    assert real["state"] == "success", real["log"][-4000:]
    version = real["tasks"]["publish"]["output"]["version"]
    assert version != published["version"] and serving.batch_pointer() == (version, watermark)
    assert ledger.records()[-1]["kind"] == "batch_replay" and ledger.records()[-1]["payload"]["from"] == day
    assert [(e["uri"], e["extra"]["version"], e["extra"]["replayed"]) for e in real["asset_events"]] == [
        ("viewcount://batch/views", version, [day, day])]
    print(f"DAG runs: batch_hourly {hourly['seconds']} s, replay dry {dry['seconds']} s, replay {real['seconds']} s")
