"""Where the batch layer publishes its views for readers: a version is loaded whole under its own
keys, then one pointer (version, watermark) flips to it.

:class:`BatchViewStore` is the interface; :mod:`.redis_views` implements it on Redis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable


class BatchViewStore(ABC):
    @abstractmethod
    def publish_batch(self, version: str, watermark_ms: int, totals: dict[str, tuple[int, str]],
                      hourly: dict[str, dict[int, int]], grace_s: int, over: str | None = None) -> str | None:
        """Load a batch version under version-scoped keys, then flip the pointer (version, W) in
        one step. The previous version expires after ``grace_s``; returns its id.

        ``over``: the version the caller computed against (``""``: none was published); the flip
        happens only if that is still the published one, else :class:`PublishConflict` names the
        current one and the loaded keys expire. ``None``: unconditional."""

    @abstractmethod
    def hourly_views(self, version: str, videos: Iterable[str]) -> dict[str, dict[int, int]]:
        """video → event hour (ms) → views, in one published version (videos it lacks: absent)."""

    @abstractmethod
    def batch_pointer(self) -> tuple[str, int] | None:
        """(version, watermark ms) of the published batch, or None."""
