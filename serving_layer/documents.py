"""The JSON answers of CONTRACT §6, shared by the API and `viewcount views`."""

from __future__ import annotations

from serving_layer.views import CreatorViews, VideoViews
from viewcount.timeutil import format_hour, format_ms


def _time(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)


def video_document(v: VideoViews) -> dict:
    return {"video_id": v.video_id, "creator_id": v.creator_id, "views": v.views,
            "batch_views": v.batch_views, "speed_views": v.speed_views,
            "batch_watermark": _time(v.batch_watermark_ms), "as_of": _time(v.as_of_ms)}


def hourly_document(v: VideoViews, low_ms: int | None = None, high_ms: int | None = None) -> dict:
    """Merged views by event hour in ``[low, high)``, hours without views left out."""
    return {"video_id": v.video_id,
            "hours": [{"hour": format_hour(h), "views": n} for h, n in sorted(v.hourly.items())
                      if n and (low_ms is None or h >= low_ms) and (high_ms is None or h < high_ms)]}


def creator_document(c: CreatorViews) -> dict:
    return {"creator_id": c.creator_id, "views": c.views,
            "videos": [{"video_id": video, "views": n} for video, n in c.videos.items()],
            "batch_watermark": _time(c.batch_watermark_ms), "as_of": _time(c.as_of_ms)}
