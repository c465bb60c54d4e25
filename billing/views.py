"""The month's counted views, from the published batch version only (never the speed layer).

The serving store's pointer names the published version and its watermark; the version's Parquet
files under the raw store hold the views: ``video_hourly`` (video, event hour, views) and each
video's first claim (``video_totals``) are divided among owners at each view's event hour with the
catalog (CONTRACT §7, §9); ``creator_daily`` (first claim, event day, views) is an independent
total to reconcile with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Protocol

from adapters.files.rawdata import iter_parquet_rows
from viewcount.rawdata import VIDEO_HOURLY, version_dir, view_dirs
from billing.exceptions import BillingError
from billing.period import Period
from adapters.files.base import FileStore
from adapters.files.exceptions import NotFound
from viewcount.ownership import Catalog, OwnershipMode, payable_views


@dataclass(frozen=True)
class MonthViews:
    period: Period
    version: str
    watermark_ms: int
    raw_input_fingerprint: str
    hourly: list[tuple[str, int, int]]    # (video, event hour ms, views) of the month
    first_claims: dict[str, str]          # video → the creator its first counted view named
    daily_total: int                      # the month summed over creator_daily instead
    by_creator: dict[str, int] = field(default_factory=dict)   # owner → views, once divided
    unassigned: int = 0                   # views no one owned at their hour (OWNERSHIP=catalog)
    unassigned_videos: dict[str, int] = field(default_factory=dict)

    @property
    def hourly_total(self) -> int:
        return sum(n for _, _, n in self.hourly)

    def divided(self, catalog: Catalog, mode: OwnershipMode) -> MonthViews:
        """The month's views divided among the owners at each view's event hour."""
        payable = payable_views(self.hourly, self.first_claims, catalog, mode)
        return replace(self, by_creator=payable.by_creator, unassigned=payable.unassigned,
                       unassigned_videos=payable.unassigned_videos)


class PublishedPointer(Protocol):
    """Where billing learns which batch version is published (the batch layer's view store)."""

    def batch_pointer(self) -> tuple[str, int] | None: ...


def published_pointer(serving: PublishedPointer) -> tuple[str, int]:
    pointer = serving.batch_pointer()
    if pointer is None:
        raise BillingError("no batch version is published yet: run `viewcount batch run` first")
    return pointer


def read_month_views(raw: FileStore, version: str, watermark_ms: int, period: Period) -> MonthViews:
    base = version_dir(version)
    try:
        manifest = json.loads(raw.read(f"{base}/_manifest.json"))
    except NotFound as e:
        raise BillingError(f"the published batch version {version} has no manifest under {raw.url}/{base}: "
                           f"is VIEWCOUNT_RAW_STORE the store it was computed on?") from e
    daily_total = sum(int(r["views"]) for r in iter_parquet_rows(raw, f"{base}/creator_daily", ["event_day", "views"])
                      if period.contains_day(r["event_day"]))
    # A version kept by event day is read for the month's days only.
    days = manifest.get("days")
    month_days = None if days is None else {d: v for d, v in days.items() if period.contains_day(d)}
    hourly = [(r["video_id"], int(r["event_hour"]), int(r["views"]))
              for directory in view_dirs(version, VIDEO_HOURLY, month_days)
              for r in iter_parquet_rows(raw, directory, ["video_id", "event_hour", "views"])
              if period.start_ms <= int(r["event_hour"]) < period.end_ms]
    videos = {video for video, _, _ in hourly}
    first_claims = {r["video_id"]: r["creator_id"]
                    for r in iter_parquet_rows(raw, f"{base}/video_totals", ["video_id", "creator_id"])
                    if r["video_id"] in videos}
    return MonthViews(period, version, watermark_ms, manifest.get("raw_input_fingerprint", ""),
                      hourly, first_claims, daily_total)
