"""Incremental equals full, property-tested: for any stream and any rising sequence of hour
boundaries W₁ < … < Wₖ, classifying the records ingested in [Wᵢ₋₁, Wᵢ) from the rule state carried
at Wᵢ₋₁ gives every record the outcome the rules give it over the whole stream (CONTRACT §2),
labels of duplicates and conflicts included; so do the views summed over the steps."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_layer.spark_rules import CAP_STATE_COLUMNS, DEDUP_STATE_COLUMNS, RuleStateFrames, classify_with_state
from tests.batch_layer.test_lambda_invariant import VALID_COLUMNS, renumbered
from tests.conftest import collected
from tests.viewcount.test_rules import SMALL, T0, streams
from viewcount.events import ViewEvent
from viewcount.rules import Outcome, apply_rules
from viewcount.timeutil import HOUR_MS, format_ms, hour_floor

pytestmark = pytest.mark.integration


def rows_between(decisions, records, start_ms, end_ms):
    from datetime import datetime, timezone

    def ts(ms):
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)

    return [(r.partition, r.offset, d.event.video_id, d.event.event_id, d.event.creator_id, d.event.viewer_id,
             ts(d.event.event_time_ms), ts(d.ingest_ms), d.event.watch_ms, d.event.fingerprint())
            for d, r in zip(decisions, records)
            if isinstance(d.event, ViewEvent) and start_ms <= d.ingest_ms < end_ms]


def materialized(spark, state: RuleStateFrames) -> RuleStateFrames:
    """The state as the next run reads it back: rows, not the plan that made them."""
    return RuleStateFrames(spark.createDataFrame(state.dedup.collect(), DEDUP_STATE_COLUMNS),
                           spark.createDataFrame(state.caps.collect(), CAP_STATE_COLUMNS))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams(max_size=60), data=st.data())
def test_steps_from_carried_state_classify_every_record_as_the_whole_stream_does(spark, stream, data):
    records = renumbered(stream)
    decisions = list(apply_rules(records, SMALL))
    boundaries = sorted({hour_floor(d.ingest_ms) + HOUR_MS for d in decisions} | {hour_floor(T0)})
    steps = sorted(data.draw(st.sets(st.sampled_from(boundaries), min_size=1, max_size=3), label="Ws"))

    got, carried, start = {}, None, 0
    for watermark in steps:
        frame = spark.createDataFrame(rows_between(decisions, records, start, watermark), VALID_COLUMNS)
        classified, state = classify_with_state(frame, SMALL, watermark, carried)
        got.update({(r["partition"], r["offset"]): r["outcome"] for r in classified.collect()})
        carried, start = materialized(spark, state), watermark

    expected = {(r.partition, r.offset): d.outcome.value for d, r in zip(decisions, records)
                if isinstance(d.event, ViewEvent) and d.ingest_ms < steps[-1]}
    assert got == expected
    # The state is only what the window keeps: no dedup entry older than it, no closed cap.
    assert all(r["last_ingest_ms"] >= steps[-1] - SMALL.dedup_window_ms for r in carried.dedup.collect())
    assert all(r["event_hour"] + HOUR_MS > steps[-1] - SMALL.max_event_age_ms for r in carried.caps.collect())


def test_a_conflict_is_judged_against_the_chain_kept_before_the_state_was_carried(spark):
    """Re-sends of one event with new fields, each within the window of the one before, keep one
    chain open across every W, and each is judged against the chain's kept record. The last is an
    exact copy of the one before it but not of the kept one: a conflict, which only the carried
    fingerprint of the kept record can tell (the records between are not read again)."""
    from tests.viewcount.test_rules import value
    from viewcount.rules import SourceRecord

    gap = 110 * 60_000                       # within the window and the event age of the one before
    sent = [value("e1", "v1", event_ms=T0 + k * gap) for k in range(3)]
    records = [SourceRecord(0, k, T0 + k * gap, v) for k, v in enumerate(sent + [sent[2]])]
    decisions = list(apply_rules(records, SMALL))
    assert [d.outcome for d in decisions] == [Outcome.COUNTED] + [Outcome.CONFLICTING] * 3
    got, carried, start = {}, None, 0
    for watermark in (hour_floor(T0 + gap) + HOUR_MS, hour_floor(T0 + 2 * gap) + HOUR_MS,
                      hour_floor(T0 + 3 * gap) + HOUR_MS):
        frame = spark.createDataFrame(rows_between(decisions, records, start, watermark), VALID_COLUMNS)
        classified, state = classify_with_state(frame, SMALL, watermark, carried)
        got.update({r["offset"]: r["outcome"] for r in classified.collect()})
        assert classified.count() == 1 + (start == 0), "each step reads only its own records"
        carried, start = materialized(spark, state), watermark
    assert got == {0: "counted", 1: "conflicting", 2: "conflicting", 3: "conflicting"}


def test_a_cap_counts_the_views_of_its_hour_counted_before_the_state_was_carried(spark):
    """Views of one viewer in one event hour, ingested on both sides of W: the carried cap says
    how many already counted, so the one past the cap is capped although its step reads it alone."""
    from tests.viewcount.test_rules import value
    from viewcount.rules import SourceRecord

    event_ms = hour_floor(T0) + 50 * 60_000
    sent = [value(f"e{k}", "v1", viewer="u1", event_ms=event_ms) for k in range(4)]
    ingest = [event_ms, event_ms + 20 * 60_000, event_ms + 40 * 60_000, event_ms + 90 * 60_000]
    records = [SourceRecord(0, k, ingest[k], v) for k, v in enumerate(sent)]
    decisions = list(apply_rules(records, SMALL))
    assert [d.outcome for d in decisions] == [Outcome.COUNTED] * 2 + [Outcome.CAPPED] * 2
    got, carried, start = {}, None, 0
    for watermark in (hour_floor(ingest[0]) + HOUR_MS, hour_floor(ingest[3]) + HOUR_MS):
        frame = spark.createDataFrame(rows_between(decisions, records, start, watermark), VALID_COLUMNS)
        classified, state = classify_with_state(frame, SMALL, watermark, carried)
        got.update({r["offset"]: r["outcome"] for r in classified.collect()})
        carried, start = materialized(spark, state), watermark
    assert got == {0: "counted", 1: "counted", 2: "capped", 3: "capped"}


def test_a_version_built_on_the_one_before_equals_a_full_recompute(make_scenario, spark):
    """run_batch over the raw store: at W₂ from the version at W₁, it reads only the records
    ingested since W₁, and its views, outcomes and owner report equal a full recompute at W₂."""
    from batch_layer.job import run_batch
    from batch_layer.watermark import safe_watermark
    from tests.ingestion.conftest import rows

    scenario = make_scenario(events=1500, days=0.3)
    scenario.run_sink(flush_records=500)
    settings = scenario.settings
    safe = safe_watermark(scenario.store, settings.topic, [0, 1, 2])
    ingest = sorted(int(r["ingest_time"].timestamp() * 1000) for r in rows(scenario.store))
    first = hour_floor(ingest[len(ingest) // 2])
    assert first < safe, "W₁ inside the traffic, with records after it"

    def run(watermark, **kw):
        return run_batch(spark, scenario.store, settings.rules, watermark, settings.topic,
                         max_invalid_share=0.2, **kw)

    before = run(first)
    assert before.manifest["mode"] == "full" and before.manifest["state"]
    step = run(safe, based_on=before.version)
    full = run(safe, full=True, write=False)
    assert step.manifest["mode"] == "incremental"
    assert step.manifest["incremental_from"]["version"] == before.version
    assert step.manifest["records_read"] < full.manifest["records_read"]
    assert step.manifest["records_read"] == full.manifest["records_read"] - before.manifest["records_read"]
    assert collected(step) == collected(full)
    assert step.outcomes == full.outcomes and step.owner_mismatch == full.owner_mismatch
    # Its data checks see the master dataset as a full recompute does, not only the new hours.
    assert step.manifest["raw_partitions"] == full.manifest["raw_partitions"]
    assert step.manifest["distinct_valid_events"] >= full.manifest["distinct_valid_events"]
    assert step.checks_passed, step.failed_checks()
    # It wrote the event days its new records count views in, and lists the base's folders for
    # the others.
    from batch_layer.version_views import VersionFiles
    from viewcount.rawdata import version_dir

    touched = {format_ms(hour)[:10] for _, hour, _ in VersionFiles(scenario.store, step.version).change_rows()}
    days = step.manifest["days"]
    assert touched and {d for d, v in days.items() if v == step.version} == touched
    assert {d: v for d, v in days.items() if v != step.version} == {
        d: v for d, v in before.manifest["days"].items() if d not in touched}
    assert all(not scenario.store.exists(version_dir(step.version, f"video_hourly/event_day={d}"))
               for d, v in days.items() if v != step.version)
    # A step with nothing ingested since its base: tests/app/test_batch_run_cli.py.

    # A base whose kept state is gone is no base: the run would recompute in full.
    from batch_layer.incremental import CAP_STATE, find_base
    from viewcount.rawdata import BATCH_ROOT

    files = step.manifest["inputs"]
    args = (before.version, before.manifest, settings.rules, settings.topic, safe, files)
    assert find_base(scenario.store, *args) is not None
    scenario.store.delete(f"{BATCH_ROOT}/version={before.version}/{CAP_STATE}/_SUCCESS")
    assert find_base(scenario.store, *args) is None
