"""No holes in the master dataset (CONTRACT §4): a deleted raw file, in the middle of a partition
or at its very start, makes `batch run` refuse by partition and offsets and name the replay
that fills it; after that replay the views are exactly what they were."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from adapters.files.rawdata import range_files
from batch_layer.holes import Hole, find_holes
from batch_layer.job import run_batch
from batch_layer.watermark import safe_watermark
from app import wiring
from tests.conftest import with_ledger
from tests.batch_layer.test_replay import SMALL_SAMPLE_INVALID_SHARE

pytestmark = pytest.mark.integration


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          env={**os.environ, **settings.to_env()}, timeout=300)


def test_a_hole_is_refused_by_name_and_its_replay_restores_exact_views(make_scenario, spark):
    scenario = make_scenario(events=3000, days=0.3)
    scenario.run_sink(flush_records=300)
    store, topic = scenario.store, scenario.settings.topic
    watermark = safe_watermark(store, topic, [0, 1, 2])
    exact = run_batch(spark, store, scenario.settings.rules, watermark, topic,
                      max_invalid_share=SMALL_SAMPLE_INVALID_SHARE)
    assert find_holes(store, topic, [0, 1, 2]) == []

    middle = range_files(store, topic, 1)[len(range_files(store, topic, 1)) // 2]
    first = range_files(store, topic, 2)[0]     # the origin: only the recorded first offset shows it
    for victim in (middle, first):
        store.delete(victim.path())
    expected = [Hole(1, middle.first, middle.last), Hole(2, first.first, first.last)]
    assert find_holes(store, topic, [0, 1, 2]) == expected

    versions = {f.path for f in store.walk("batch")}
    refused = cli(scenario.settings, "batch", "run")
    error = refused.stderr.strip().splitlines()[-1]
    assert refused.returncode == 1 and error.startswith("viewcount batch: error: the master dataset"), refused.stderr
    assert f"partition 1 offsets {middle.first}..{middle.last}; partition 2 offsets {first.first}..{first.last}" \
        in error
    assert f"`{expected[0].replay_command()}`" in error
    assert {f.path for f in store.walk("batch")} == versions   # nothing computed

    replay = cli(scenario.settings, "batch", "replay", "--from", "2026-11-01", "--to", "2026-11-01")
    assert replay.returncode == 1 and "has holes" in replay.stderr.strip().splitlines()[-1]   # a replay too

    for hole in expected:   # what the message says to run, for each hole
        done = cli(scenario.settings, *hole.replay_command().split()[1:])
        assert done.returncode == 0, done.stderr[-2000:]
    assert find_holes(store, topic, [0, 1, 2]) == []
    again = run_batch(spark, store, scenario.settings.rules, watermark, topic,
                      max_invalid_share=SMALL_SAMPLE_INVALID_SHARE)
    assert again.views.collect_totals() == exact.views.collect_totals() and again.outcomes == exact.outcomes


def delete_kafka_records_before(settings, partition: int, offset: int) -> None:
    """What retention does: the partition's log now starts at ``offset``."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for future in admin.delete_records([TopicPartition(settings.topic, partition, offset)]).values():
        future.result(30)


def test_a_hole_kafka_no_longer_holds_is_accepted_only_as_lost_and_audited(make_scenario, tmp_path):
    from app.batch_operations import require_no_holes_now

    scenario = make_scenario(events=1500, days=0.2)
    scenario.run_sink(flush_records=200)
    settings = with_ledger(scenario.settings, (tmp_path / "audit").as_uri())
    lost = range_files(scenario.store, settings.topic, 0)[0]
    scenario.store.delete(lost.path())
    hole = ["--partition", "0", "--from-offset", str(lost.first), "--to-offset", str(lost.last)]

    held = cli(settings, "batch", "accept-hole", *hole, "--reason", "disk lost")
    assert held.returncode == 1 and "Kafka still holds offsets" in held.stderr and "ingest replay" in held.stderr
    wider = cli(settings, "batch", "accept-hole", "--partition", "0", "--from-offset", str(lost.first),
                "--to-offset", str(lost.last + 1), "--reason", "disk lost")
    assert wider.returncode == 1 and "is not a hole" in wider.stderr

    delete_kafka_records_before(settings, 0, lost.last + 1)
    accepted = cli(settings, "batch", "accept-hole", *hole, "--reason", "disk lost, past retention")
    assert accepted.returncode == 0, accepted.stderr
    record = wiring.audit_ledger(settings).records()[-1]
    assert (record["kind"], record["payload"]["partition"], record["payload"]["first_offset"],
            record["payload"]["last_offset"], record["payload"]["reason"]) == (
        "hole_accepted", 0, lost.first, lost.last, "disk lost, past retention")
    require_no_holes_now(settings)   # the batch goes on with what remains
    assert cli(settings, "audit", "verify", "--against-topic").returncode == 0


def test_overlapping_files_are_read_once_and_reported(make_scenario, spark):
    """What a raw-sink member that flushed after losing its partition leaves behind."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from viewcount.rawdata import RangeFile

    scenario = make_scenario(events=2000, days=0.3)
    scenario.run_sink(flush_records=300)
    store, topic = scenario.store, scenario.settings.topic
    watermark = safe_watermark(store, topic, [0, 1, 2])
    exact = run_batch(spark, store, scenario.settings.rules, watermark, topic, write=False,
                      max_invalid_share=SMALL_SAMPLE_INVALID_SHARE)
    # Two neighbouring files of 50 records or more, so the stray range holds every offset it names
    # (the first file of a partition is cut at an hour boundary and can be short).
    files = range_files(store, topic, 1)
    a, b = next((x, y) for x, y in zip(files, files[1:]) if x.last - x.first >= 49 and y.last - y.first >= 49)
    both = pa.concat_tables([pq.read_table(pa.BufferReader(store.read(f.path()))) for f in (a, b)])
    first, last = a.last - 49, b.first + 49
    offsets = both.column("offset").to_pylist()
    stray = both.filter(pa.array([first <= o <= last for o in offsets]))
    sink = pa.BufferOutputStream()
    pq.write_table(stray, sink)
    store.put_new(RangeFile(1, first, last, b.hour_ms, topic).path(), sink.getvalue().to_pybytes())

    again = run_batch(spark, store, scenario.settings.rules, watermark, topic, write=False,
                      max_invalid_share=SMALL_SAMPLE_INVALID_SHARE)
    assert again.checks_passed, again.failed_checks()
    assert again.views.collect_totals() == exact.views.collect_totals() and again.outcomes == exact.outcomes
    assert again.manifest["overlaps"] == [{"partition": 1, "first_offset": first, "last_offset": last}]
    assert exact.manifest["overlaps"] == []
