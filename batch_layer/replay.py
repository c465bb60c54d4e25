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
from batch_layer.job import BATCH_ROOT, BatchResult, new_version_id, run_batch, write_manifest, write_version
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


def _published_hourly(spark, store: FileStore, version: str) -> tuple[dict, dict, dict]:
    base = f"{store.url}/{BATCH_ROOT}/version={version}"
    hourly: dict[str, dict[int, int]] = {}
    for r in spark.read.parquet(f"{base}/video_hourly").collect():
        hourly.setdefault(r["video_id"], {})[int(r["event_hour"])] = r["views"]
    owners = {r["video_id"]: r["creator_id"] for r in spark.read.parquet(f"{base}/video_totals").collect()}
    daily = {(r["creator_id"], r["event_day"]): r["views"] for r in spark.read.parquet(f"{base}/creator_daily").collect()}
    return hourly, owners, daily


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
    old_hourly, old_owners, old_daily = _published_hourly(spark, raw, previous)
    say("[2/4] recomputing every record ingested before W (the rules' look-back included)")
    version = new_version_id(watermark)
    fresh = run_batch(spark, raw, rules, watermark, topic, version=version, write=False,
                      max_invalid_share=max_invalid_share, catalog=catalog, ownership=ownership)

    say(f"[3/4] merging event days {from_day}..{to_day} into a new version {version}")
    inside = lambda hour: start <= hour < end  # noqa: E731
    hourly: dict[str, dict[int, int]] = {}
    for video in set(old_hourly) | set(fresh.hourly):
        kept = {h: n for h, n in old_hourly.get(video, {}).items() if not inside(h)}
        kept.update({h: n for h, n in fresh.hourly.get(video, {}).items() if inside(h)})
        if kept:
            hourly[video] = kept
        for day_start in range(start, end, DAY_MS):
            day = str((datetime.fromtimestamp(day_start / 1000, tz=timezone.utc)).date())
            before = sum(n for h, n in old_hourly.get(video, {}).items() if day_start <= h < day_start + DAY_MS)
            after = sum(n for h, n in fresh.hourly.get(video, {}).items() if day_start <= h < day_start + DAY_MS)
            if before != after:
                report.diffs.append(DayDiff(day, video, before, after))
    report.diffs.sort(key=lambda d: (d.day, d.video_id))
    totals = {v: (sum(h.values()), fresh.totals.get(v, (0, old_owners.get(v)))[1] or old_owners.get(v))
              for v, h in hourly.items()}
    daily = {k: n for k, n in old_daily.items() if not (str(from_day) <= k[1] <= str(to_day))}
    daily.update({k: n for k, n in fresh.creator_daily.items() if str(from_day) <= k[1] <= str(to_day)})
    fresh.version, fresh.totals, fresh.hourly, fresh.creator_daily = version, totals, hourly, daily
    report.result = fresh
    if dry_run:
        say("[4/4] dry run: nothing written, nothing published")
        return report

    say("[4/4] writing and checking the new version")
    hourly_df = spark.createDataFrame([(v, h, n) for v, hs in hourly.items() for h, n in hs.items()],
                                      "video_id string, event_hour long, views long")
    totals_df = spark.createDataFrame([(v, n, o) for v, (n, o) in totals.items()],
                                      "video_id string, views long, creator_id string")
    daily_df = spark.createDataFrame([(c, d, n) for (c, d), n in daily.items()],
                                     "creator_id string, event_day string, views long")
    write_version(raw, version, hourly_df, totals_df, daily_df)
    fresh.manifest.update({"version": version, "kind": "replay", "from": str(from_day), "to": str(to_day),
                           "previous_version": previous, "based_on": previous,
                           "state": False})   # its views are not what its rule state was computed for
    fresh.checks = [c for c in fresh.checks if c.name in ("raw_schema", "raw_batch")] + [_check_merged(totals, hourly)]
    fresh.checks_path = f"{raw.url}/{write_manifest(raw, version, fresh.manifest, fresh.checks)}"
    return report


def _check_merged(totals: dict, hourly: dict):
    import pandas as pd

    from expectations.runner import Checker

    frame = pd.DataFrame([{"video_id": v, "views": n, "creator_id": o, "hourly_sum": sum(hourly.get(v, {}).values())}
                          for v, (n, o) in sorted(totals.items())],
                         columns=["video_id", "views", "creator_id", "hourly_sum"])
    return Checker().check("batch_views", frame)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise BatchError(f"expected a date YYYY-MM-DD, not {text!r}") from e


def replay_extra(report: ReplayReport) -> dict:
    """What a replay's audit record adds to a publish record."""
    return {"from": report.from_day, "to": report.to_day, "changed_rows": len(report.diffs),
            "net_views": sum(d.delta for d in report.diffs)}
