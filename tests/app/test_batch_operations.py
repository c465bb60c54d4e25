"""The batch operations the DAGs call: the expectations gate reads a version's checks report."""

from __future__ import annotations

import json

import pytest

from batch_layer.exceptions import BatchError, ChecksFailed
from app.batch_operations import require_checks_passed
from devtools.sandbox import settings_for
from app import wiring
from viewcount.rawdata import BATCH_ROOT


def test_the_gate_passes_a_clean_report_and_names_a_failed_check(tmp_path):
    settings = settings_for(tmp_path)
    store = wiring.raw_store(settings)
    ok = {"name": "raw_batch", "success": True, "results": [{"expectation": "x", "success": True}]}
    bad = {"name": "reconcile", "success": False, "results": [
        {"expectation": "expect_column_pair_values_to_be_equal", "column": "total_views", "success": False,
         "unexpected_count": 1}]}
    store.put(f"{BATCH_ROOT}/version=v1/_checks.json", json.dumps([ok]).encode())
    store.put(f"{BATCH_ROOT}/version=v2/_checks.json", json.dumps([ok, bad]).encode())
    assert require_checks_passed(settings, "v1") == {"raw_batch": True}
    with pytest.raises(ChecksFailed, match=r"version v2: reconcile: expect_column_pair_values_to_be_equal"
                                           r"\(total_views\) unexpected=1 \(report: .*version=v2/_checks.json\)"):
        require_checks_passed(settings, "v2")
    with pytest.raises(BatchError, match="v3 is incomplete or missing"):
        require_checks_passed(settings, "v3")
