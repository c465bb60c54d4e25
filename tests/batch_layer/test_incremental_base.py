"""When a run may start from the version before it (batch_layer.incremental.refusal): pure logic
over manifests and file listings."""

from __future__ import annotations

from batch_layer.incremental import refusal
from viewcount.rules import RULES_VERSION, RuleSettings
from viewcount.timeutil import HOUR_MS

W = 1_795_258_800_000   # 2026-11-21T11:00:00Z


def views(hour: str, partition: int, first: int, last: int) -> dict:
    return {"path": f"views/v1/ingest_date=2026-11-21/ingest_hour={hour}/part-views-{partition}-{first:020d}-{last:020d}.parquet",
            "size": 100, "sha256": "x"}


INPUTS = [views("09", 0, 0, 9), views("09", 0, 10, 19), views("10", 0, 20, 29), views("10", 1, 0, 4)]


def manifest(**changes) -> dict:
    return {"state": True, "raw_partitions": {}, "rules_version": RULES_VERSION, "rules": RuleSettings().__dict__, "topic": "views",
            "watermark_ms": W, "inputs": INPUTS, "days": {"2026-11-21": "w1"}, **changes}


def test_a_version_of_the_same_rules_over_the_same_older_offsets_is_a_base():
    later = INPUTS + [views("11", 0, 30, 39), views("11", 1, 5, 9)]
    assert refusal(manifest(), RuleSettings(), "views", W + HOUR_MS, later) == ""


def test_compacted_older_hours_still_hold_the_same_offsets():
    compacted = [views("09", 0, 0, 19), views("10", 0, 20, 29), views("10", 1, 0, 4)]
    assert refusal(manifest(), RuleSettings(), "views", W, compacted) == ""


def test_each_reason_to_recompute_in_full_is_named():
    rules = RuleSettings()
    cases = {
        "keeps no rule state": (manifest(state=False), rules, "views", W, INPUTS),
        "keeps its views in one folder": ({k: v for k, v in manifest().items() if k != "days"}, rules, "views", W,
                                         INPUTS),
        "other rules": (manifest(), RuleSettings(min_watch_ms=1), "views", W, INPUTS),
        "was computed over topic": (manifest(), rules, "other", W, INPUTS),
        "after": (manifest(), rules, "views", W - HOUR_MS, INPUTS),
        "other offsets": (manifest(), rules, "views", W, INPUTS + [views("10", 2, 0, 3)]),
    }
    for reason, args in cases.items():
        assert reason in refusal(*args), reason
    missing = [f for f in INPUTS if "-1-" not in f["path"]]
    assert "other offsets" in refusal(manifest(), rules, "views", W, missing)
    assert "other rules" in refusal(manifest(rules_version=RULES_VERSION - 1), rules, "views", W, INPUTS)
