"""Errors of the speed layer."""

from __future__ import annotations

from adapters.redis.exceptions import ServingStoreError, UnsafeStore


class StateLost(ServingStoreError):
    """The store holds less than a caller saw applied: it came back from an AOF that lost its
    tail, or failed over to a replica that lagged. Nothing was applied; the caller rewinds to
    ``applied`` + 1 and applies the gap again."""

    def __init__(self, topic: str, partition: int, applied: int, expected: int) -> None:
        super().__init__(f"{topic}-{partition}: the store holds offsets through {applied}, "
                         f"but {expected} had been applied")
        self.topic, self.partition, self.applied, self.expected = topic, partition, applied, expected


class StateLayoutMismatch(UnsafeStore):
    """The dedup and cap state under the prefix was written with another number of buckets, laid
    out for another number of partitions, or before the layout was recorded: this store's lookups
    would miss it and count duplicates."""

    def __init__(self, prefix: str, layout: str, recorded: str) -> None:
        found = f"with {recorded}" if recorded else "by a version that recorded no layout"
        super().__init__(f"the speed layer's state under the prefix {prefix!r} was written {found}, and this "
                         f"layer's is {layout} (SPEED_STATE_BUCKETS, TOPIC_PARTITIONS): lookups would miss it "
                         f"and count duplicates. Set both back to what they were, or count into a new "
                         f"REDIS_PREFIX from the start of the topic (viewcount speed reads it again from Kafka; "
                         f"docs/runbook.md)")
        self.prefix, self.layout, self.recorded = prefix, layout, recorded
