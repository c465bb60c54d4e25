"""The serving-store interface and its value types."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from viewcount.rules import Outcome, RuleSettings

# One record prepared for the atomic step: offset, timestamp_ms, valid, dedup digest,
# fingerprint, video_id, creator_id, cap digest, event_time_ms, watch_ms.
PreparedRecord = tuple


@dataclass(frozen=True)
class StepResult:
    last_offset: int
    ingest_ms: int
    outcomes: dict[Outcome, int]
    conflicting_offsets: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class StateTtls:
    """Garbage collection only: comparisons are on ingest time, never on expiry."""

    dedup_s: int
    cap_s: int
    bucket_s: int

    @classmethod
    def for_rules(cls, rules: RuleSettings, bucket_retention_ms: int, margin_ms: int = 3_600_000) -> StateTtls:
        horizon_s = (rules.state_horizon_ms + margin_ms) // 1000
        return cls(horizon_s, horizon_s, max(1, bucket_retention_ms // 1000))


@dataclass(frozen=True)
class VideoViews:
    """One video's merged count (CONTRACT §3, §6): batch below the watermark, speed at or after."""

    video_id: str
    creator_id: str | None
    batch_views: int
    speed_views: int
    batch_watermark_ms: int | None
    batch_version: str | None
    hourly: dict[int, int]          # event hour (ms) → merged views
    as_of_ms: int | None = None     # every record ingested before this is in the answer

    @property
    def views(self) -> int:
        return self.batch_views + self.speed_views

    @property
    def known(self) -> bool:
        return self.creator_id is not None or self.views > 0


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


class ServingStore(ABC):
    @abstractmethod
    def applied_offsets(self, topic: str) -> dict[int, int]:
        """partition → last offset the speed layer applied."""

    @abstractmethod
    def apply(self, topic: str, partition: int, records: Sequence[PreparedRecord],
              rules: RuleSettings, ttls: StateTtls, expect_applied: int = -1) -> StepResult:
        """Apply one partition's records in one atomic step (idempotent per offset). Raises
        :class:`~.exceptions.StateLost`, applying nothing, if the store holds less than
        ``expect_applied``, the offset the caller last saw applied."""

    @abstractmethod
    def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        """A consistent snapshot: batch pointer, that version's counts, speed buckets at or after W;
        with ``topic``, ``as_of`` is the speed layer's progress on it (the slowest partition);
        without ``hourly``, the totals only (``hourly`` is left empty: a cheaper read)."""

    @abstractmethod
    def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        """Every video the creator owns (batch or speed), merged as :meth:`video_views` does, in
        one snapshot."""

    @abstractmethod
    def publish_batch(self, version: str, watermark_ms: int, totals: dict[str, tuple[int, str]],
                      hourly: dict[str, dict[int, int]], grace_s: int) -> str | None:
        """Load a batch version under version-scoped keys, then flip the pointer (version, W) in
        one step. The previous version expires after ``grace_s``; returns its id."""

    @abstractmethod
    def batch_pointer(self) -> tuple[str, int] | None:
        """(version, watermark ms) of the published batch, or None."""

    @abstractmethod
    def ping(self) -> bool: ...


class ServingReader(ABC):
    """The read side of the serving store for an asyncio server: the same answers as
    :class:`ServingStore`'s reads, awaited."""

    @abstractmethod
    async def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews: ...

    @abstractmethod
    async def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews: ...

    @abstractmethod
    async def batch_pointer(self) -> tuple[str, int] | None: ...

    @abstractmethod
    async def ping(self) -> bool: ...

    @abstractmethod
    async def close(self) -> None: ...
