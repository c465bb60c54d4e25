"""`viewcount batch run` on a Spark standalone cluster over the HDFS raw store gives the views
that a local Spark computes from the same files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
    settings = with_ledger(scenario.settings, (tmp_path / "audit").as_uri(), redis_prefix=f"s{uuid.uuid4().hex[:8]}",
                           batch_max_invalid_share=0.5, spark_master=spark_cluster)
    watermark = safe_watermark(scenario.store, settings.topic, [0, 1, 2])
    local = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic, write=False,
                      max_invalid_share=0.5)

    done = subprocess.run([sys.executable, "-m", "app", "batch", "run", "--watermark", format_ms(watermark)],
                          capture_output=True, text=True, env={**os.environ, **settings.to_env()}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"batch: Spark {spark_cluster}, raw store hdfs://" in done.stderr
    version = re.match(r"published batch version (\S+) ", done.stdout).group(1)
    on_cluster = load_result(scenario.store, version)

    assert on_cluster.totals == local.totals and sum(n for n, _ in local.totals.values()) > 0
    assert on_cluster.hourly == local.hourly
    assert on_cluster.creator_daily == local.creator_daily
    assert on_cluster.outcomes == local.outcomes
    assert on_cluster.manifest["raw_input_fingerprint"] == local.manifest["raw_input_fingerprint"]
