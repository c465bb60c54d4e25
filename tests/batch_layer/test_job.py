"""The batch job's own checks before it touches Spark or the raw store."""

from __future__ import annotations

import pytest

from batch_layer.exceptions import BatchError
from batch_layer.job import new_version_id, run_batch
from viewcount.rules import RuleSettings

W = 1_795_258_800_000   # 2026-11-21T11:00:00Z


@pytest.mark.parametrize("version", ["hourly-local[2]-0", "a*b", "v 1", "v/1", "{v}"])
def test_a_version_id_spark_would_read_as_a_pattern_is_refused_before_anything_runs(version):
    with pytest.raises(BatchError, match="letters, digits"):
        run_batch(None, None, RuleSettings(), W, "views", version=version)


def test_new_version_ids_name_their_watermark_hour():
    assert new_version_id(W).startswith("w20261121T11-")
