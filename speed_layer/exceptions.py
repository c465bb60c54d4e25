"""Errors of the speed layer."""

from __future__ import annotations

from adapters.redis.exceptions import ServingStoreError


class StateLost(ServingStoreError):
    """The store holds less than a caller saw applied: it came back from an AOF that lost its
    tail, or failed over to a replica that lagged. Nothing was applied; the caller rewinds to
    ``applied`` + 1 and applies the gap again."""

    def __init__(self, topic: str, partition: int, applied: int, expected: int) -> None:
        super().__init__(f"{topic}-{partition}: the store holds offsets through {applied}, "
                         f"but {expected} had been applied")
        self.topic, self.partition, self.applied, self.expected = topic, partition, applied, expected
