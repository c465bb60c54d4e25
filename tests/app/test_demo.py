"""`viewcount demo` end to end on the session's stack."""

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from app import wiring
from ingestion.produce import produce_lines
from adapters.files.rawdata import read_parquet_rows
from adapters.files.local import LocalFileStore, LocalStoreConfig
from viewcount.timeutil import format_ms, now_ms
from devtools.sandbox import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def out_root(tmp_path_factory):
    """One --out folder for both demo tests, so that whichever runs second is a second run in the
    same folder (the session runs the cluster's tests last, so they are not next to each other)."""
    return tmp_path_factory.mktemp("demo-out")


def test_demo_runs_and_every_count_equals_the_truth(stack_settings, stack, out_root):
    env = {**os.environ, **stack_settings.to_env()}
    done = subprocess.run([sys.executable, "-m", "app", "demo", "--events", "4000", "--out", str(out_root)],
                          capture_output=True, env=env, timeout=600)
    out = done.stdout.decode()
    assert done.returncode == 0, out[-3000:] + done.stderr.decode()[-3000:]
    assert "[10/10]" in out and "starting the local stack" in out
    lines = {line.rsplit(maxsplit=1)[0].strip(): line.rsplit(maxsplit=1)[1] for line in out.splitlines()
             if line.strip() and line[:2] != "  " and len(line.split()) > 1}
    assert lines["mismatches"] == lines["payout mismatches"] == lines["live mismatches"] == "0"
    assert lines["records produced"] == lines["lines generated"] == "4,000"
    number = lambda name: int(lines[name].replace(",", ""))  # noqa: E731
    assert number("views sent through the collector") == 400 and number("collector requests (one resent)") == 5
    assert number("videos checked through the API") > 0 and number("payouts") > 0
    assert number("audit records verified") == 1 + number("payouts")
    statement = next(line.split(maxsplit=1)[1] for line in out.splitlines() if line.startswith("statement "))
    assert os.path.isfile(statement)
    assert "every video's count, every live view and every payout equal the truth" in out


def test_on_the_cluster_keep_running_counts_live_views_and_stops_cleanly_on_ctrl_c(
        stack_settings, kafka_cluster, redis_cluster, out_root):
    """`demo --cluster --keep-running`: the job on 3 Kafka brokers and a Redis Cluster (the
    session's: the demo finds them running) is as exact as on the one broker and the one Redis.
    After the run, the API, the raw sink and the speed layer (two consumer groups in one
    process) stay up: a view produced now is counted and stored; Ctrl-C stops them and exits 0.

    It runs in the --out folder of the test above, so one of the two is a second run there: each
    run works in a namespace of its own, and the second is as exact as the first (idempotent).

    The sink flushes by age within a second here, so the test can see the live record stored
    before it presses Ctrl-C: whether the sink had polled it by then is a race the test must not
    depend on (what the sink holds at a stop is flushed: test_sink's Ctrl-C test)."""
    token = "keep-running-admin-token-of-32-chars"
    env = {**os.environ, **stack_settings.to_env(), "VIEWCOUNT_ADMIN_TOKEN": token,
           "VIEWCOUNT_INGEST_FLUSH_AGE": "1s"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "demo", "--cluster", "--events", "1500", "--out",
                             str(out_root), "--keep-running"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.decode() for line in proc.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("result:") for line in lines) or proc.poll() is not None, 600,
                 interval_s=0.5, what="the demo's summary")
        assert proc.poll() is None, "".join(lines)[-3000:]
        out = "".join(lines)
        assert "every video's count, every live view and every payout equal the truth" in out
        assert "starting the local cluster" in out
        assert f"VIEWCOUNT_KAFKA_BOOTSTRAP={kafka_cluster.kafka_bootstrap} " in out
        assert f"VIEWCOUNT_REDIS_URL={redis_cluster.redis_url} " in out
        namespace = next(line.split("VIEWCOUNT_REDIS_PREFIX=")[1].split()[0] for line in lines
                         if "VIEWCOUNT_REDIS_PREFIX=" in line)
        api = next(line.split()[1] for line in lines if line.startswith("API ")).split("/v1/")[0]
        run_folder = next(line.split()[2] for line in lines if line.startswith("run folder"))

        live = {"event_id": "live-1", "video_id": "live_video", "creator_id": "creator_live", "viewer_id": "v1",
                "event_time": format_ms(now_ms()), "watch_ms": 45_000}
        settings = kafka_cluster.replace(topic=f"{stack_settings.topic}.{namespace}")
        producer = wiring.producer(settings)
        try:
            report = produce_lines([json.dumps(live).encode()], producer, settings.topic)
        finally:
            producer.close()
        assert report.sent == 1

        def counted():
            request = urllib.request.Request(f"{api}/v1/videos/live_video/views",
                                             headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return json.loads(response.read())["views"] == 1
            except urllib.error.HTTPError as e:
                assert e.code == 404, e.read()
                return False

        wait_for(counted, 60, interval_s=0.2, what="the live view in the API")
        store = LocalFileStore(LocalStoreConfig(root=f"{run_folder}/raw"))
        wait_for(lambda: {"video_id": "live_video"} in read_parquet_rows(store, "views/v1", columns=["video_id"]),
                 60, interval_s=0.5, what="the live view in the raw store")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, "".join(lines)[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    assert any("stopped" in line for line in lines[-5:]), "".join(lines)[-2000:]
