"""`viewcount batch run` as an operator runs it: what it prints, and which raw files it reads."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import pytest

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
    assert " counted " in lines[1] and lines[1].startswith("outcomes: ") and lines[2].startswith("batch and speed: ")
    version = published.group(1)
    store_root = settings.raw_store.removeprefix("file://")
    with open(f"{store_root}/{BATCH_ROOT}/version={version}/_manifest.json") as f:
        return version, int(published.group(2)), json.load(f)


def test_an_hourly_run_hashes_only_new_raw_files_and_rehash_reads_them_all(make_scenario):
    scenario = make_scenario(events=400, days=0.1)
    scenario.run_sink(flush_records=100)
    settings = with_ledger(scenario.settings, scenario.settings.raw_store + "-audit",
                           redis_prefix=f"r{uuid.uuid4().hex[:8]}", batch_max_invalid_share=0.5)

    first, seq, manifest = batch_run(settings)
    inputs = len(manifest["inputs"])
    assert seq == 1 and inputs > 3 and manifest["inputs_hashed"]["files"] == inputs
    second, seq, again = batch_run(settings)
    assert seq == 2 and again["based_on"] == first
    assert again["inputs_hashed"] == {"files": 0, "bytes": 0}
    assert again["raw_input_fingerprint"] == manifest["raw_input_fingerprint"]
    _, seq, rehashed = batch_run(settings, "--rehash")
    assert seq == 3 and rehashed["based_on"] == second
    assert rehashed["inputs_hashed"]["files"] == inputs
    assert rehashed["raw_input_fingerprint"] == manifest["raw_input_fingerprint"]
