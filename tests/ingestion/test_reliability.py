"""Crashes and restarts: kill -9 of the sink and a broker restart leave the dataset exact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from viewcount import wiring
from viewcount.produce import produce_lines
from tests.conftest import Background, wait_for
from tests.ingestion.conftest import assert_exact

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sink_process(scenario, *args) -> subprocess.Popen:
    env = {**os.environ, **scenario.settings.to_env(),
           "VIEWCOUNT_INGEST_FLUSH_RECORDS": "1500", "VIEWCOUNT_INGEST_METRICS_PORT": "0",
           # A killed member's partitions move after this long (the broker's minimum is 6s).
           "VIEWCOUNT_KAFKA_SESSION_TIMEOUT": "6s",
           "VIEWCOUNT_INGEST_GROUP": f"sink-{scenario.settings.topic}"}
    return subprocess.Popen([sys.executable, "-m", "viewcount", "ingest", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_at_random_points_then_restart_is_still_exact(make_scenario):
    scenario = make_scenario(events=40_000, days=0.5)
    rng = random.Random(1234)
    kills = 0
    for _ in range(6):
        proc = sink_process(scenario)
        # Let it get into its stride (resume, consume, flush) before pulling the plug.
        wait_for(lambda: rows_count(scenario) > 0 or proc.poll() is not None, 60, what="files")
        time.sleep(rng.uniform(0.2, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(30)
    assert kills >= 5
    # A killed member keeps its partitions until its session expires; a restarted member that
    # joined before then is (rightly) caught up on the rest and done. Restart once they are gone.
    admin = wiring.topic_admin(scenario.settings)
    try:
        wait_for(lambda: admin.group_member_count(f"sink-{scenario.settings.topic}") == 0, 60,
                 what="the killed members' sessions to expire")
    finally:
        admin.close()
    final = sink_process(scenario, "--until-idle", "3")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()[-2000:]
    print(err.decode()[-3000:])  # shown when the accounting below fails
    valid, quarantined = assert_exact(scenario)
    assert len(quarantined) == scenario.truth["outcomes"]["invalid"]


def rows_count(scenario) -> int:
    return sum(1 for f in scenario.store.walk("views/v1") if f.path.endswith(".parquet"))


def test_a_broker_restart_mid_stream_loses_and_duplicates_nothing(make_scenario, stack):
    scenario = make_scenario(events=5000, days=0.2)
    sink, close = scenario.sink(flush_records=500, flush_age_s=1)
    runner = Background(sink.run, until_idle_s=20)
    wait_for(lambda: rows_count(scenario) > 0, 60, what="the first files")
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
