"""`batch replay`: recompute the event days in a range and publish them as a new version.

The recompute runs over every record ingested before the published W (that is the look-back the
dedup and cap rules need: a day's views depend on records up to 7d5m + 1h earlier). The new
version takes the recomputed counts for event hours inside the range and keeps the published
version's counts outside it, so days outside the range never move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from batch_layer.exceptions import BatchError
from batch_layer.job import (BatchResult, new_version_id, run_batch, view_summary, views_with_hourly_sums,
                             write_manifest, write_version)
from batch_layer.aggregate import day_column
from batch_layer.inputs import read_manifest
from batch_layer.version_views import VersionFiles, VersionFrames
from expectations.runner import Checker
from viewcount.ownership import Catalog, OwnershipMode
from viewcount.rules import RuleSettings
from batch_layer.views_store import BatchViewStore
from adapters.files.base import FileStore
from viewcount.timeutil import DAY_MS, format_ms

logger = logging.getLogger(__name__)


@dataclass
class DayDiff:
    day: str
    video_id: str
    published: int
    recomputed: int

    @property
    def delta(self) -> int:
        return self.recomputed - self.published


@dataclass
class ReplayReport:
    from_day: str
    to_day: str
    previous_version: str
    watermark_ms: int
    diffs: list[DayDiff] = field(default_factory=list)
    result: BatchResult | None = None

    def table(self) -> str:
        if not self.diffs:
            return f"no difference between {self.from_day} and {self.to_day}"
        lines = [f"{'event day':10}  {'video':20} {'published':>10} {'recomputed':>10} {'delta':>8}"]
        lines += [f"{d.day:10}  {d.video_id:20} {d.published:>10} {d.recomputed:>10} {d.delta:>+8}" for d in self.diffs]
        lines.append(f"{len(self.diffs)} (day, video) rows differ; net {sum(d.delta for d in self.diffs):+d} views")
        return "\n".join(lines)


def _day_bounds(from_day: date, to_day: date) -> tuple[int, int]:
    start = int(datetime(from_day.year, from_day.month, from_day.day, tzinfo=timezone.utc).timestamp() * 1000)
    end = int(datetime(to_day.year, to_day.month, to_day.day, tzinfo=timezone.utc).timestamp() * 1000) + DAY_MS
    return start, end


def replay_days(spark, raw: FileStore, serving: BatchViewStore, rules: RuleSettings, topic: str,
                from_day: date, to_day: date, dry_run: bool, say: Callable[[str], None] = print,
                max_invalid_share: float = 0.05, catalog: Catalog | None = None,
                ownership: OwnershipMode = OwnershipMode.FIRST_CLAIM) -> ReplayReport:
    if to_day < from_day:
        raise BatchError(f"--to {to_day} is before --from {from_day}")
    pointer = serving.batch_pointer()
    if pointer is None:
        raise BatchError("no batch version is published yet: run `viewcount batch run` first")
    previous, watermark = pointer
    start, end = _day_bounds(from_day, to_day)
    report = ReplayReport(str(from_day), str(to_day), previous, watermark)

    say(f"[1/4] reading the published version {previous} (W {format_ms(watermark)})")
    old = VersionFrames.read(spark, raw, previous, (read_manifest(raw, previous) or {}).get("days"))
    say("[2/4] recomputing every record ingested before W (the rules' look-back included)")
    version = new_version_id(watermark)
    fresh = run_batch(spark, raw, rules, watermark, topic, version=version, write=False,
                      max_invalid_share=max_invalid_share, catalog=catalog, ownership=ownership)

    say(f"[3/4] merging event days {from_day}..{to_day} into a new version {version}")
    merged = merge_days(old, fresh.views, start, end, str(from_day), str(to_day))
    report.diffs = day_diffs(old.hourly, fresh.views.hourly, start, end)
    fresh.version, report.result = version, fresh
    if dry_run:
        fresh.views = merged
        say("[4/4] dry run: nothing written, nothing published")
        return report

    say("[4/4] writing and checking the new version")
    days = write_version(raw, version, merged.hourly, merged.totals, merged.daily)
    written = VersionFrames.read(spark, raw, version, days)
    summary = view_summary(written)
    fresh.views = VersionFiles(raw, version, days)
    fresh.manifest.pop("changes", None)
    fresh.manifest.update({"version": version, "kind": "replay", "from": str(from_day), "to": str(to_day),
                           "previous_version": previous, "based_on": previous, "videos": summary.videos,
                           "views": summary.views, "rows": summary.rows, "days": days,
                           "state": False})   # its views are not what its rule state was computed for
    fresh.checks = [c for c in fresh.checks if c.name in ("raw_schema", "raw_batch")] + [
        Checker().check("batch_views", views_with_hourly_sums(written))]
    fresh.checks_path = f"{raw.url}/{write_manifest(raw, version, fresh.manifest, fresh.checks)}"
    return report


def merge_days(old: VersionFrames, fresh: VersionFrames, start: int, end: int, from_day: str,
               to_day: str) -> VersionFrames:
    """The published views with the event hours in [start, end) taken from the recompute. A
    video's first claim is the recompute's, or the published one's if the recompute has none."""
    from pyspark.sql import functions as F

    inside = (F.col("event_hour") >= start) & (F.col("event_hour") < end)
    hourly = old.hourly.where(~inside).unionByName(fresh.hourly.where(inside))
    owners = (old.totals.select("video_id", F.col("creator_id").alias("old_owner"))
              .join(fresh.totals.select("video_id", F.col("creator_id").alias("new_owner")), "video_id", "full_outer")
              .select("video_id", F.coalesce("new_owner", "old_owner").alias("creator_id")))
    totals = (hourly.groupBy("video_id").agg(F.sum("views").alias("views"))
              .join(owners, "video_id", "left").select("video_id", "views", "creator_id"))
    in_days = (F.col("event_day") >= from_day) & (F.col("event_day") <= to_day)
    daily = old.daily.where(~in_days).unionByName(fresh.daily.where(in_days))
    return VersionFrames(hourly, totals, daily)


def day_diffs(old_hourly, new_hourly, start: int, end: int) -> list[DayDiff]:
    """(event day, video) rows in [start, end) whose views differ, sorted: the report's table
    (only differing rows reach the driver)."""
    from pyspark.sql import functions as F

    def by_day(hourly, name: str):
        return (hourly.where((F.col("event_hour") >= start) & (F.col("event_hour") < end))
                .withColumn("day", day_column())
                .groupBy("day", "video_id").agg(F.sum("views").alias(name)))

    joined = (by_day(old_hourly, "published").join(by_day(new_hourly, "recomputed"), ["day", "video_id"], "full_outer")
              .select("day", "video_id", F.coalesce("published", F.lit(0)).alias("published"),
                      F.coalesce("recomputed", F.lit(0)).alias("recomputed"))
              .where(F.col("published") != F.col("recomputed")).orderBy("day", "video_id"))
    return [DayDiff(r["day"], r["video_id"], int(r["published"]), int(r["recomputed"])) for r in joined.toLocalIterator()]


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise BatchError(f"expected a date YYYY-MM-DD, not {text!r}") from e


def replay_extra(report: ReplayReport) -> dict:
    """What a replay's audit record adds to a publish record."""
    return {"from": report.from_day, "to": report.to_day, "changed_rows": len(report.diffs),
            "net_views": sum(d.delta for d in report.diffs)}
