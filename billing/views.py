"""The month's counted views, from the published batch version only (never the speed layer).

The serving store's pointer names the published version and its watermark; the version's Parquet
files under the raw store hold the views: ``creator_daily`` (creator, event day, views) for the
payouts and ``video_hourly`` (video, event hour, views) as an independent total to reconcile with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from adapters.files.rawdata import read_parquet_rows
from viewcount.rawdata import BATCH_ROOT
from billing.exceptions import BillingError
from billing.period import Period
from adapters.files.base import FileStore
from adapters.files.exceptions import NotFound


@dataclass(frozen=True)
class MonthViews:
    period: Period
    version: str
    watermark_ms: int
    raw_input_fingerprint: str
    by_creator: dict[str, int]      # views with an event day in the month, per creator
    hourly_total: int               # the same month summed over (video, event hour) instead


class PublishedPointer(Protocol):
    """Where billing learns which batch version is published (the batch layer's view store)."""

    def batch_pointer(self) -> tuple[str, int] | None: ...


def published_pointer(serving: PublishedPointer) -> tuple[str, int]:
    pointer = serving.batch_pointer()
    if pointer is None:
        raise BillingError("no batch version is published yet: run `viewcount batch run` first")
    return pointer


def read_month_views(raw: FileStore, version: str, watermark_ms: int, period: Period) -> MonthViews:
    base = f"{BATCH_ROOT}/version={version}"
    try:
        manifest = json.loads(raw.read(f"{base}/_manifest.json"))
    except NotFound as e:
        raise BillingError(f"the published batch version {version} has no manifest under {raw.url}/{base}: "
                           f"is VIEWCOUNT_RAW_STORE the store it was computed on?") from e
    by_creator: dict[str, int] = {}
    for row in read_parquet_rows(raw, f"{base}/creator_daily", ["creator_id", "event_day", "views"]):
        if period.contains_day(row["event_day"]):
            by_creator[row["creator_id"]] = by_creator.get(row["creator_id"], 0) + int(row["views"])
    hourly_total = sum(int(r["views"]) for r in read_parquet_rows(raw, f"{base}/video_hourly", ["event_hour", "views"])
                       if period.start_ms <= int(r["event_hour"]) < period.end_ms)
    return MonthViews(period, version, watermark_ms, manifest.get("raw_input_fingerprint", ""),
                      by_creator, hourly_total)
