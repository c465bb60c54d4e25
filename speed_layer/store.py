"""What the speed layer needs of its store: the atomic step and where each partition stands.

:class:`CountStore` is the interface; :mod:`.redis_store` implements it on Redis with
``step.lua``. :class:`StepRecord` is the wire format of one record in a step, named here and in
the script's ``F`` table (a test holds the two together).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from viewcount.rules import Outcome, RuleSettings


class StepRecord(NamedTuple):
    """One record prepared for the atomic step: step 1 (validity) decided, digests computed."""

    offset: int
    timestamp_ms: int
    valid: int                  # 1 or 0; an invalid record carries nothing else
    dedup_digest: bytes | str
    fingerprint: bytes | str
    video_id: str
    creator_id: str
    cap_digest: bytes | str
    event_time_ms: int
    watch_ms: int

    @classmethod
    def invalid(cls, offset: int, timestamp_ms: int) -> StepRecord:
        return cls(offset, timestamp_ms, 0, "", "", "", "", "", 0, 0)


@dataclass(frozen=True)
class StepResult:
    last_offset: int
    ingest_ms: int
    outcomes: dict[Outcome, int]
    conflicting_offsets: list[int] = field(default_factory=list)
    owner_mismatch: int = 0     # counted views naming another creator than the video's first claim (§9)
    expired: int = 0            # keys the step dropped: state the ingest time passed, swept buckets


class CountStore(ABC):
    @abstractmethod
    def applied_offsets(self, topic: str) -> dict[int, int]:
        """partition → last offset the speed layer applied."""

    @abstractmethod
    def applied_ingest_times(self, topic: str) -> dict[int, int]:
        """partition → ingest time (ms) of the last record the speed layer applied."""

    @abstractmethod
    def views_ingested_between(self, topic: str, partitions: Sequence[int], from_ms: int,
                               to_ms: int) -> dict[str, dict[int, int]]:
        """video → event hour (ms) → views the speed layer counted from records ingested in
        ``[from_ms, to_ms)`` (hour boundaries), from the buckets it still holds."""

    @abstractmethod
    def published_watermark(self) -> int | None:
        """W of the published batch version (ms), None before the first publish."""

    @abstractmethod
    def apply(self, topic: str, partition: int, records: Sequence[StepRecord],
              rules: RuleSettings, sweep_before_ms: int | None = None, expect_applied: int = -1) -> StepResult:
        """Apply one partition's records in one atomic step (idempotent per offset), then drop
        the dedup and cap state that the partition's ingest time has passed and the buckets and
        claims of ingest hours before ``sweep_before_ms``. Raises
        :class:`~.exceptions.StateLost`, applying nothing, if the store holds less than
        ``expect_applied``, the offset the caller last saw applied."""

    @abstractmethod
    def ping(self) -> bool: ...
