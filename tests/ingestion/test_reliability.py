"""Crashes and restarts: kill -9 of the sink and a broker restart leave the dataset exact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from app import wiring
from ingestion.produce import produce_lines
from adapters.files.rawdata import read_progress
from adapters.files.local import LocalFileStore, LocalStoreConfig
from app.background import Background
from devtools.sandbox import wait_for
from tests.conftest import run_through_rebalances
from tests.ingestion.conftest import assert_exact, committed_files

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sink_process(scenario, *args, client: str = "kafka-python", instance: str = "sink-host") -> subprocess.Popen:
    env = {**os.environ, **scenario.settings.to_env(),
           "VIEWCOUNT_INGEST_FLUSH_RECORDS": "700", "VIEWCOUNT_INGEST_METRICS_PORT": "0",
           "VIEWCOUNT_KAFKA_CLIENT": client, "VIEWCOUNT_KAFKA_GROUP_INSTANCE_ID": instance,
           "VIEWCOUNT_INGEST_GROUP": f"sink-{scenario.settings.topic}"}
    return subprocess.Popen([sys.executable, "-m", "app", "ingest", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_kill_9_and_an_immediate_restart_ten_times_is_still_exact(make_scenario, client):
    """The member holding every partition dies mid-flush, over and over; each successor (the
    same static member) takes the partitions back at once and resumes from the files."""
    scenario = make_scenario(events=60_000, days=0.5, partitions=4)
    rng = random.Random(1234)
    kills = 0
    while kills < 10:
        before = committed_files(scenario.store)
        proc = sink_process(scenario, "--until-idle", "5", client=client)
        # Kill it once it is in its stride: after it has committed one to three files past where it
        # resumed, then at a random moment of the next ones. Counted mostly in files, so ten kills
        # fit the topic however fast the sink is.
        target = before + rng.randint(1, 3)
        wait_for(lambda: committed_files(scenario.store) >= target or proc.poll() is not None, 60, interval_s=0.01,
                 what="new files")
        time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is not None:
            break  # it finished the whole topic between two kills
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        kills += 1
    assert kills == 10, f"only {kills} kills landed before the topic was done"
    final = sink_process(scenario, "--until-idle", "5", client=client)  # at once: no wait for the session
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()[-2000:]
    valid, quarantined = assert_exact(scenario)
    assert len(quarantined) == scenario.truth["outcomes"]["invalid"]


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_a_broker_restart_mid_stream_loses_and_duplicates_nothing(make_scenario, stack, client):
    scenario = make_scenario(events=5000, days=0.2)
    scenario.settings = scenario.settings.replace(kafka_client=client)
    sink, close = scenario.sink(flush_records=500, flush_age_s=1)
    runner = Background(sink.run, until_idle_s=20)
    wait_for(lambda: committed_files(scenario.store) > 0, 60, what="the first files")
    stack.down(("kafka",), progress=lambda line: None)
    time.sleep(1)  # the broker is really gone for a moment
    stack.up(("kafka",), progress=lambda line: None)
    # More records after the restart, so the sink must reconnect to take them.
    extra = [b'{"after": "restart %d"}' % i for i in range(50)]
    producer = wiring.producer(scenario.settings)
    try:
        report = produce_lines(extra, producer, scenario.settings.topic)
    finally:
        producer.close()
    assert report.sent == len(extra)
    scenario.lines += extra
    try:
        runner.join(180)
    finally:
        close()
    assert_exact(scenario)


class SlowStore(LocalFileStore):
    """Every committed file takes a second longer (a slow disk, a NameNode under load): longer
    than a rebalance, so commits are in flight while partitions move."""

    commits = 0

    def put_new(self, path: str, data: bytes, before_commit=None) -> bool:
        time.sleep(1)
        self.commits += 1
        return super().put_new(path, data, before_commit)


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_two_members_one_slow_through_twenty_rebalances_store_every_record_once(make_scenario, client):
    scenario = make_scenario(events=12_000, days=0.3, partitions=4, produce=False)
    scenario.settings = scenario.settings.replace(kafka_client=client)
    slow_store = SlowStore(LocalStoreConfig(root=urlsplit(scenario.settings.raw_store).path))
    fast, close_fast = scenario.sink(flush_records=5000, flush_age_s=3, instance="member-fast")
    slow, close_slow = scenario.sink(flush_records=5000, flush_age_s=3, store=slow_store, instance="member-slow")
    forced = run_through_rebalances(scenario.settings, scenario.group, [fast, slow], [close_fast, close_slow],
                                    scenario.lines, done=lambda: flushed(scenario) == len(scenario.lines))
    assert forced == 20 and slow_store.commits > 0
    assert_exact(scenario)


def flushed(scenario) -> int:
    """Records every partition's flush progress says are in files."""
    found = (read_progress(scenario.store, scenario.settings.topic, p) for p in range(scenario.settings.topic_partitions))
    return sum(progress.flushed_offset + 1 for progress in found if progress is not None)
