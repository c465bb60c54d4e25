"""Ranges the raw sink has sealed and not yet committed, each encoded to Parquet on a worker
thread meanwhile.

Encoding a range (pyarrow's ``write_table``: column encoding and zstd) runs mostly without the
GIL, so the polling thread reads and decodes the next records while a worker encodes the last
range. Commits stay on the polling thread, in the order the ranges were sealed: the fence goes
through the Kafka consumer, which is not shared between threads.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ingestion.chunk import Chunk
from ingestion.dead_letters import SentDeadLetters


@dataclass(frozen=True)
class EncodedRange:
    views: bytes
    quarantine: bytes | None
    encoded_at: float        # time.monotonic() when the worker finished


@dataclass(frozen=True)
class SealedRange:
    partition: int
    owner: object                # the partition's state that sealed it: stale once that state is gone
    chunk: Chunk
    complete_before: int | None  # the partition's running ingest time when sealed: its progress once committed
    files: Future[EncodedRange]
    dead_letters: SentDeadLetters | None     # its invalid records' dead letters, sent at the seal
    sealed_at: float = field(default_factory=time.monotonic)


def encode(chunk: Chunk) -> EncodedRange:
    """Both files of a range. Runs on a worker thread: the chunk is not changed once sealed."""
    return EncodedRange(chunk.views_parquet(), chunk.quarantine_parquet(), time.monotonic())


class SealedRanges:
    """Sealed ranges, oldest first, at most ``limit`` being encoded or waiting at once."""

    def __init__(self, threads: int) -> None:
        self.limit = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sink-encode")
        self._ranges: deque[SealedRange] = deque()

    def __len__(self) -> int:
        return len(self._ranges)

    def full(self) -> bool:
        return len(self._ranges) >= self.limit

    def seal(self, partition: int, owner: object, chunk: Chunk, complete_before: int | None,
             dead_letters: SentDeadLetters | None = None) -> None:
        self._ranges.append(SealedRange(partition, owner, chunk, complete_before, self._pool.submit(encode, chunk),
                                        dead_letters))

    def next(self, wait: bool) -> SealedRange | None:
        """The oldest range, taken out, once its files are encoded (at once when ``wait`` is
        false: None while they are not)."""
        if not self._ranges or (not wait and not self._ranges[0].files.done()):
            return None
        return self._ranges.popleft()

    def holds(self, partition: int) -> bool:
        return any(r.partition == partition for r in self._ranges)

    def drop(self, partition: int) -> list[SealedRange]:
        """Forget a partition's sealed ranges (its buffer is given up); returns them."""
        dropped = [r for r in self._ranges if r.partition == partition]
        if dropped:
            self._ranges = deque(r for r in self._ranges if r.partition != partition)
            for r in dropped:
                r.files.cancel()
        return dropped

    def close(self) -> None:
        """Stop the workers; ranges not committed are given up (read again from Kafka)."""
        self._ranges.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
