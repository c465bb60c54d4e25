"""What the API reads: one video's or one creator's merged counts, and the interface that reads them.

:class:`ServingReader` is the interface the API awaits; :mod:`.redis_reader` implements it on
Redis with ``read.lua``, and offers the same reads blocking for the CLI and for checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class VideoViews:
    """One video's merged count (CONTRACT §3, §6): batch below the watermark, speed at or after."""

    video_id: str
    creator_id: str | None          # the owner now (CONTRACT §9), None when no one owns it
    batch_views: int
    speed_views: int
    batch_watermark_ms: int | None
    batch_version: str | None
    hourly: dict[int, int]          # event hour (ms) → merged views
    as_of_ms: int | None = None     # every record ingested before this is in the answer
    first_claim: str | None = None  # the creator the video's first counted view named

    @property
    def views(self) -> int:
        return self.batch_views + self.speed_views

    @property
    def known(self) -> bool:
        return self.creator_id is not None or self.first_claim is not None or self.views > 0


@dataclass(frozen=True)
class CreatorViews:
    """A creator's videos and their merged counts, read in one consistent snapshot."""

    creator_id: str
    videos: dict[str, int]          # video → merged views, videos the creator owns
    batch_watermark_ms: int | None
    batch_version: str | None
    as_of_ms: int | None = None

    @property
    def views(self) -> int:
        return sum(self.videos.values())


class ServingReader(ABC):
    """The read side of the serving store for an asyncio server: each read is one consistent
    snapshot (batch pointer, that version's counts, speed buckets at or after W)."""

    @abstractmethod
    async def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        """With ``topic``, ``as_of`` is the speed layer's progress on it (the slowest partition);
        without ``hourly``, the totals only (``hourly`` is left empty: a cheaper read)."""

    @abstractmethod
    async def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        """Every video the creator owns now (CONTRACT §9), merged as :meth:`video_views` does, read
        in pages at one batch version."""

    @abstractmethod
    async def batch_pointer(self) -> tuple[str, int] | None: ...

    @abstractmethod
    async def ping(self) -> bool: ...

    @abstractmethod
    async def close(self) -> None: ...


class PayoutSource(Protocol):
    """A creator's payouts and adjustments as the API shows them (billing's ledger index,
    ``billing.payouts.PayoutBook``, injected by the application)."""

    def for_creator(self, creator_id: str) -> dict:
        """``{"creator_id", "payouts": [...], "periods": [...]}`` (CONTRACT §6)."""


class StatementSource(Protocol):
    """The monthly statements finance downloads (billing's ``billing.statement.StatementShelf``,
    injected by the application)."""

    def latest(self, period: str, fmt: str) -> tuple[str, bytes] | None:
        """``(file name, bytes)`` of the month's (``YYYY-MM``) latest statement as ``csv`` or
        ``parquet``, or None when the month has not been billed. Raises a ``ViewcountError`` for a
        malformed month."""
