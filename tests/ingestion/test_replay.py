"""Re-ingest: deleted files come back exactly, existing ones are left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from adapters.files.rawdata import range_files
from viewcount.rawdata import QUARANTINE_ROOT, RangeFile, gaps
from tests.ingestion.conftest import assert_exact, rows


def rf(first, last):
    return RangeFile(0, first, last, 0, "t")


@pytest.mark.parametrize("files, start, end, expected", [
    ([rf(0, 9), rf(10, 19)], 0, 19, []),
    ([rf(0, 9), rf(20, 29)], 0, 29, [(10, 19)]),
    ([rf(10, 19)], 0, 19, [(0, 9)]),
    ([rf(0, 9)], 0, 15, [(10, 15)]),
    ([rf(0, 9), rf(20, 29), rf(40, 49)], 5, 45, [(10, 19), (30, 39)]),
    ([], 3, 7, [(3, 7)]),
])
def test_gaps_are_the_offsets_no_file_covers(files, start, end, expected):
    assert gaps(files, start, end) == expected


def replay(scenario, *args):
    env = {**os.environ, **scenario.settings.to_env()}
    return subprocess.run([sys.executable, "-m", "app", "ingest", "replay", *args],
                          capture_output=True, env=env, timeout=300)


@pytest.mark.integration
def test_replay_restores_exactly_the_deleted_rows(make_scenario):
    scenario = make_scenario(events=4000, days=0.5)
    scenario.run_sink(flush_records=300)
    complete_views = sorted((r["partition"], r["offset"], r["value"]) for r in rows(scenario.store))
    complete_quarantine = sorted((r["partition"], r["offset"], r["reason"])
                                 for r in rows(scenario.store, QUARANTINE_ROOT))
    topic = scenario.settings.topic
    files = range_files(scenario.store, topic, 1)
    victims = [files[1], files[2], files[len(files) // 2]]
    quarantined = range_files(scenario.store, topic, 1, QUARANTINE_ROOT)
    untouched = [f for f in files if f not in victims]
    for f in victims:
        scenario.store.delete(f.path())
    lost_quarantine = next(q for q in quarantined if q not in victims)
    scenario.store.delete(lost_quarantine.path(QUARANTINE_ROOT))
    kept_bytes = {f.path(): scenario.store.read(f.path()) for f in untouched}

    done = replay(scenario, "--partition", "1", "--from-offset", "0")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"restored" in done.stdout
    assert sorted((r["partition"], r["offset"], r["value"]) for r in rows(scenario.store)) == complete_views
    assert sorted((r["partition"], r["offset"], r["reason"])
                  for r in rows(scenario.store, QUARANTINE_ROOT)) == complete_quarantine
    assert {f.path(): scenario.store.read(f.path()) for f in untouched} == kept_bytes
    assert_exact(scenario)

    again = replay(scenario, "--partition", "1", "--from-offset", "0")
    assert again.returncode == 0 and b"nothing missing" in again.stdout


@pytest.mark.integration
def test_replay_refuses_offsets_the_sink_has_not_committed(make_scenario):
    scenario = make_scenario(events=500, days=0.1)
    scenario.run_sink()
    done = replay(scenario, "--partition", "0", "--from-offset", "0", "--to-offset", "999999")
    assert done.returncode == 1
    assert b"past what the sink has committed" in done.stderr


@pytest.mark.integration
def test_replay_refuses_a_partition_without_flush_progress(make_scenario):
    scenario = make_scenario(lines=[b'{"video_id": "v1"}'], partitions=1)
    done = replay(scenario, "--partition", "0", "--from-offset", "0")
    assert done.returncode == 1
    assert b"has no flush progress" in done.stderr and b"viewcount ingest" in done.stderr
    assert not list(scenario.store.walk("views/v1"))


@pytest.mark.integration
def test_replay_from_a_time(make_scenario):
    scenario = make_scenario(events=1500, days=0.3)
    scenario.run_sink(flush_records=200)
    files = range_files(scenario.store, scenario.settings.topic, 2)
    scenario.store.delete(files[-1].path())
    done = replay(scenario, "--partition", "2", "--from-time", "2000-01-01T00:00:00Z")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert_exact(scenario)
