"""A batch version computed from the one before it: only the records ingested since its W are read.

A record's outcome depends on earlier records only, and only through what the rules remember:
the dedup entries of the last ``MAX_EVENT_AGE + MAX_CLOCK_SKEW`` of ingest time and the caps of
event hours that rule 2 still admits (CONTRACT §2, ``docs/semantics.md`` §4). A version keeps that
state at its W (``state/``), and its counted views per (video, event hour, named creator)
(``video_hour_claims/``, by event day). The next version at W' classifies the records ingested in
[W, W') from that state alone and adds their views to the kept ones; the event days those records
count no view in are reused as they are, in the folders that hold them (batch_layer.aggregate).

A version is used as a base only when it was computed by the same rules over the same topic,
keeps its state, and the raw files of the hours before its W still hold the same offsets
(compaction may rename them, nothing may add to them). Otherwise the run is a full recompute,
and the log says why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from adapters.files.base import FileStore
from batch_layer.inputs import input_ranges
from batch_layer.version_views import DAILY_COLUMNS, TOTALS_COLUMNS, read_dirs
from batch_layer.spark_rules import CAP_STATE_COLUMNS, DEDUP_STATE_COLUMNS, RuleStateFrames
from viewcount.rawdata import CLAIMS, CREATOR_DAILY, VIDEO_TOTALS, VIEWS_ROOT, day_dirs, parse_hour_dir, version_dir
from viewcount.rules import RULES_VERSION, RuleSettings
from viewcount.timeutil import format_ms, hour_floor

logger = logging.getLogger(__name__)

DEDUP_STATE = "state/dedup"
CAP_STATE = "state/caps"
CLAIMS_COLUMNS = "video_id string, event_hour long, creator_id string, views long"


@dataclass(frozen=True)
class Base:
    """The version a run starts from."""

    version: str
    watermark_ms: int
    manifest: dict

    def path(self, store: FileStore, table: str) -> str:
        return f"{store.url}/{version_dir(self.version, table)}"

    def state(self, spark, store: FileStore) -> RuleStateFrames:
        return RuleStateFrames(spark.read.schema(DEDUP_STATE_COLUMNS).parquet(self.path(store, DEDUP_STATE)),
                               spark.read.schema(CAP_STATE_COLUMNS).parquet(self.path(store, CAP_STATE)))

    @property
    def days(self) -> dict[str, str]:
        """Event day → the version that holds the base's views of that day."""
        return self.manifest["days"]

    def claims(self, spark, store: FileStore, days: Iterable[str]):
        """The base's counted views by named creator, of those of ``days`` it has."""
        held = {day: self.days[day] for day in days if day in self.days}
        return read_dirs(spark, store, day_dirs(CLAIMS, held), CLAIMS_COLUMNS)

    def totals(self, spark, store: FileStore):
        return spark.read.schema(TOTALS_COLUMNS).parquet(self.path(store, VIDEO_TOTALS))

    def daily(self, spark, store: FileStore):
        return spark.read.schema(DAILY_COLUMNS).parquet(self.path(store, CREATOR_DAILY))

    def first_claims(self, spark, store: FileStore):
        """video_id → creator_id as the base's totals hold it (the video's first claim)."""
        return self.totals(spark, store).select("video_id", "creator_id")


def find_base(store: FileStore, based_on: str | None, manifest: dict | None, rules: RuleSettings, topic: str,
              watermark_ms: int, files: list[dict]) -> Base | None:
    """The version ``based_on`` (whose ``manifest`` the caller read) if this run may start from it,
    else None (logged with the reason)."""
    if not based_on:
        return None
    if manifest is None:
        return _full(f"version {based_on} has no manifest")
    reason = refusal(manifest, rules, topic, watermark_ms, files)
    if reason:
        return _full(f"version {based_on} {reason}")
    for table in (CLAIMS, DEDUP_STATE, CAP_STATE, VIDEO_TOTALS):
        if not store.exists(version_dir(based_on, f"{table}/_SUCCESS")):
            return _full(f"version {based_on} has no complete {table}/")
    return Base(based_on, manifest["watermark_ms"], manifest)


def refusal(manifest: dict, rules: RuleSettings, topic: str, watermark_ms: int, files: list[dict]) -> str:
    """Why a version with this manifest cannot be a base at ``watermark_ms`` ("" if it can)."""
    if not manifest.get("state") or "raw_partitions" not in manifest:
        return "keeps no rule state (a replay, or written before versions kept it)"
    if "days" not in manifest:
        return "keeps its views in one folder (written before versions kept them by event day)"
    if manifest.get("rules_version") != RULES_VERSION or manifest.get("rules") != rules.__dict__:
        return "was computed by other rules"
    if manifest.get("topic") != topic:
        return f"was computed over topic {manifest.get('topic')}"
    if manifest["watermark_ms"] > watermark_ms:
        return f"is at W {format_ms(manifest['watermark_ms'])}, after {format_ms(watermark_ms)}"
    before = hour_floor(manifest["watermark_ms"])
    if _coverage(manifest.get("inputs", ()), topic, before) != _coverage(files, topic, before):
        return f"read other offsets in the hours before {format_ms(before)} than the raw store holds now"
    return ""


def new_files(files: list[dict], root: str, base: Base) -> list[str]:
    """Paths under ``root`` of the hours that can hold records ingested at or after the base's W."""
    start = hour_floor(base.watermark_ms)
    return [f["path"] for f in files if f["path"].startswith(root) and _hour_of(f["path"]) >= start]


def _coverage(files, topic: str, before_ms: int) -> dict[int, list[tuple[int, int]]]:
    """partition → merged offset intervals of the views files of hours before ``before_ms``."""
    spans: dict[int, list[tuple[int, int]]] = {}
    older = [f for f in files if f["path"].startswith(VIEWS_ROOT) and _hour_of(f["path"]) < before_ms]
    for r in sorted(input_ranges(older, topic)):
        merged = spans.setdefault(r.partition, [])
        if merged and r.first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], r.last))
        else:
            merged.append((r.first, r.last))
    return spans


def _hour_of(path: str) -> int:
    date_dir, hour_dir = path.split("/")[-3:-1]
    return parse_hour_dir(date_dir, hour_dir)


def _full(reason: str) -> None:
    logger.info("full recompute: %s", reason)
    return None
