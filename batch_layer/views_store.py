"""Where the batch layer publishes its views for readers: a version is loaded whole under its own
keys, then one pointer (version, watermark) flips to it.

:class:`BatchViewStore` is the interface; :mod:`.redis_views` implements it on Redis. A version is
loaded from two streams of rows, so that what the publisher holds does not grow with the number
of videos: one row per video (:data:`VideoRow`) and one per (video, event hour) (:data:`HourRow`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping

VideoRow = tuple[str, int, str]     # (video_id, views, creator_id: its first claim)
HourRow = tuple[str, int, int]      # (video_id, event hour ms, views)


class BatchViewStore(ABC):
    @abstractmethod
    def publish_rows(self, version: str, watermark_ms: int, videos: Iterable[VideoRow], hours: Iterable[HourRow],
                     grace_s: int, over: str | None = None) -> str | None:
        """Load a batch version under version-scoped keys, then flip the pointer (version, W) in
        one step. The previous version expires after ``grace_s``; returns its id. ``videos`` and
        ``hours`` are consumed once each, in any order of rows.

        ``over``: the version the caller computed against (``""``: none was published); the flip
        happens only if that is still the published one, else :class:`PublishConflict` names the
        current one and the loaded keys expire. ``None``: unconditional."""

    def publish_batch(self, version: str, watermark_ms: int, totals: Mapping[str, tuple[int, str]],
                      hourly: Mapping[str, Mapping[int, int]], grace_s: int, over: str | None = None) -> str | None:
        """:meth:`publish_rows` from views held in memory: video → (views, first claim) and
        video → event hour → views."""
        return self.publish_rows(version, watermark_ms, ((v, n, owner) for v, (n, owner) in totals.items()),
                                 ((v, h, n) for v, hours in hourly.items() for h, n in hours.items()),
                                 grace_s, over)

    @abstractmethod
    def hourly_views(self, version: str, videos: Iterable[str]) -> dict[str, dict[int, int]]:
        """video → event hour (ms) → views, in one published version (videos it lacks: absent)."""

    @abstractmethod
    def batch_pointer(self) -> tuple[str, int] | None:
        """(version, watermark ms) of the published batch, or None."""
