"""`viewcount batch run` as an operator runs it: what it prints, and which raw files it reads."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app import wiring
from batch_layer.job import run_batch
from batch_layer.publish import publish
from batch_layer.watermark import safe_watermark
from tests.conftest import with_ledger
from tests.ingestion.conftest import make_scenario  # noqa: F401  (the raw-sink scenario factory)
from viewcount.rawdata import BATCH_ROOT

pytestmark = pytest.mark.integration

PUBLISHED = re.compile(r"^published batch version (\S+) \(W [0-9TZ:.-]+\): \d+ videos, \d+ views; audit seq (\d+)$")


def batch_run(settings, *flags: str) -> tuple[str, int, dict]:
    """Run the command; its version, audit seq and written manifest."""
    done = subprocess.run([sys.executable, "-m", "app", "batch", "run", *flags], capture_output=True, text=True,
                          env={**os.environ, **settings.to_env()}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    published = PUBLISHED.match(lines[0])
    assert published, done.stdout
    assert " counted " in lines[1] and lines[1].startswith("outcomes: ") and lines[4].startswith("batch and speed: ")
    assert re.match(r"^(full recompute|computed from version \S+ \(W [0-9TZ:.-]+\)): [\d,]+ records read", lines[2])
    docs = Path(settings.state_dir) / "great_expectations" / "data_docs" / "index.html"
    assert lines[3] == f"data checks: Data Docs at {docs.as_uri()}" and docs.is_file()
    version = published.group(1)
    for check in ("raw_schema", "raw_batch", "batch_views", "reconcile"):     # each check's page, by version
        assert (docs.parent / "validations" / check / version).is_dir(), check
    store_root = settings.raw_store.removeprefix("file://")
    with open(f"{store_root}/{BATCH_ROOT}/version={version}/_manifest.json") as f:
        return version, int(published.group(2)), json.load(f)


def test_batch_run_publishes_shows_its_checks_and_rehash_reads_every_raw_file_again(make_scenario, spark):
    """The reuse of recorded digests itself: tests/batch_layer/test_batch.py (a run over a version)."""
    scenario = make_scenario(events=400, days=0.1)
    scenario.run_sink(flush_records=100)
    settings = with_ledger(scenario.settings, scenario.settings.raw_store + "-audit",
                           redis_prefix=f"r{uuid.uuid4().hex[:8]}", batch_max_invalid_share=0.5)
    # A version published in this process (its Spark is warm), so the command runs over one.
    watermark = safe_watermark(scenario.store, settings.topic, [0, 1, 2])
    first = run_batch(spark, scenario.store, settings.rules, watermark, settings.topic, max_invalid_share=0.5,
                      based_on="")
    with wiring.audit_ledger(settings) as ledger:
        publish(first, wiring.batch_views(settings), ledger)

    _, seq, rehashed = batch_run(settings, "--rehash")
    inputs = len(rehashed["inputs"])
    assert seq == 2 and rehashed["based_on"] == first.version and inputs > 3
    assert rehashed["inputs_hashed"]["files"] == inputs       # a version lists them all, and still
    assert rehashed["raw_input_fingerprint"] == first.manifest["raw_input_fingerprint"]
    # At the same W as the version it starts from: nothing ingested since, nothing read again.
    assert rehashed["mode"] == "incremental" and rehashed["records_read"] == 0
    assert (rehashed["videos"], rehashed["outcomes"]) == (first.manifest["videos"], first.manifest["outcomes"])
