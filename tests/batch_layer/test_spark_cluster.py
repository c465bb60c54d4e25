"""`viewcount batch run --submit` on a Spark standalone cluster over the HDFS raw store gives the
views that a local Spark computes from the same files, with the operator's Spark settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid

import pytest

from batch_layer.job import run_batch
from batch_layer.versions import load_result
from batch_layer.watermark import safe_watermark
from tests.conftest import with_ledger
from viewcount.timeutil import format_ms

pytestmark = [pytest.mark.integration, pytest.mark.hdfs]


def test_the_standalone_cluster_computes_what_local_spark_computes(make_scenario, hdfs, spark_cluster, spark,
                                                                     tmp_path):
    scenario = make_scenario(events=800, days=0.2, store="hdfs")
    scenario.run_sink(flush_records=200)
    spark_conf = tmp_path / "spark-defaults.conf"
    spark_conf.write_text("# the operator's\nspark.executor.memory 600m\nspark.cores.max=1\n")
    settings = with_ledger(scenario.settings, (tmp_path / "audit").as_uri(), redis_prefix=f"s{uuid.uuid4().hex[:8]}",
                           batch_max_invalid_share=0.5, spark_master=spark_cluster, spark_conf=str(spark_conf))
    watermark = safe_watermark(scenario.store, settings.topic, [0, 1, 2])
    local = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic, write=False,
                      max_invalid_share=0.5)

    done = subprocess.run([sys.executable, "-m", "app", "batch", "run", "--submit", "--watermark", format_ms(watermark)],
                          capture_output=True, text=True, env={**os.environ, **settings.to_env()}, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert f"batch: spark-submit to {spark_cluster}" in done.stderr
    # spark-submit passes the application's stderr on to its stdout
    assert f"batch: Spark {spark_cluster}, raw store hdfs://" in done.stdout
    version = re.search(r"^published batch version (\S+) ", done.stdout, re.MULTILINE).group(1)
    app = master_state(settings)["completedapps"][-1]       # the application spark-submit started
    assert (app["name"], app["cores"], app["memoryperexecutor"]) == ("viewcount-batch", 1, 600)
    on_cluster = load_result(scenario.store, version)

    totals = local.views.collect_totals()
    assert on_cluster.views.collect_totals() == totals and sum(n for n, _ in totals.values()) > 0
    assert on_cluster.views.collect_hourly() == local.views.collect_hourly()
    assert on_cluster.views.collect_daily() == local.views.collect_daily()
    assert on_cluster.outcomes == local.outcomes
    assert on_cluster.manifest["raw_input_fingerprint"] == local.manifest["raw_input_fingerprint"]


def master_state(settings) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.spark_port_base + 1}/json/", timeout=5) as answer:
        return json.load(answer)
