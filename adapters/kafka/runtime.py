"""One consumer runtime for every layer that reads the views topic in a group.

The runtime owns the poll loop: group membership, signals, and the ``--until-idle`` decision.
A layer plugs in a :class:`PartitionHandler` that knows its own store. The rules it enforces:

- Rebalance callbacks only record what changed. Everything that waits (reading where to resume,
  settling or dropping buffered work) runs here, on the polling thread, right after the poll
  that reported it, before any record of that poll is handled.
- A newly assigned partition starts where the layer's own store says it is processed to, never
  where Kafka's committed offsets say (those are for lag monitoring only).
- A partition whose resume offset retention has already deleted is not skipped silently: the
  start is refused naming the lost offsets, unless the layer was started to accept such a gap,
  and then it is reported to the layer (``on_gap``: logged, counted, audited).
- "Done" (``--until-idle``) is a fact about the whole topic: every partition processed to its
  end offset as the layer's own store records it, including partitions another member, or a
  dead one, still holds.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from adapters.kafka.exceptions import KafkaUnavailable, RetentionGap
from adapters.kafka.seam import Record, RecordConsumer
from viewcount.logfields import where

logger = logging.getLogger(__name__)

UNREACHABLE_BACKOFF_S = 0.5


class PartitionHandler(Protocol):
    """What a layer gives the runtime. Every method runs on the polling thread."""

    def assigned(self, partitions: list[int]) -> Mapping[int, int | None]:
        """Read from the layer's store where each newly owned partition resumes (None: from the
        partition's first retained record)."""

    def revoked(self, partitions: list[int]) -> None:
        """Forget partitions this member no longer owns. Work not yet durable for them is
        dropped or settled; their new owner reads from the store, so nothing is lost."""

    def handle(self, partition: int, records: list[Record]) -> None:
        """Process one owned partition's records from one poll, in offset order."""

    def tick(self, now: float, received: bool) -> None:
        """Periodic work after every poll (time-based flushes, lag, health checks)."""

    def drain(self) -> None:
        """Make everything handled so far durable in the layer's store."""

    def stored_next_offsets(self, partitions: list[int]) -> dict[int, int]:
        """Per partition, the next offset the layer's store records as processed (missing:
        nothing stored yet)."""


@dataclass(frozen=True)
class RuntimeConfig:
    topic: str
    layer: str                     # for log lines: "raw sink", "speed layer"
    poll_timeout_s: float = 0.5
    max_poll_records: int = 5000
    done_check_s: float = 1.0      # how often an idle member compares its store with the end offsets
    accept_gap: bool = False       # go on past offsets retention deleted before they were processed


@dataclass(frozen=True)
class Gap:
    """Offsets ``first..last`` of a partition, deleted by retention before the layer processed them."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def records(self) -> int:
        return self.last - self.first + 1


class _MembershipChanges:
    """Filled by the client's rebalance callbacks (possibly on its network thread), emptied by
    the polling thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[tuple[str, list[int]]] = []

    def assigned(self, partitions: list[int]) -> None:
        with self._lock:
            self._events.append(("assigned", list(partitions)))

    def revoked(self, partitions: list[int]) -> None:
        with self._lock:
            self._events.append(("revoked", list(partitions)))

    def take(self) -> list[tuple[str, list[int]]]:
        with self._lock:
            events, self._events = self._events, []
        return events


def unfinished(ends: Mapping[int, int], begins: Mapping[int, int], stored: Mapping[int, int],
               positions: Mapping[int, int]) -> list[int]:
    """Partitions not yet processed to their end offset. A partition is finished when the store
    has reached its end, when it holds no record at all, or when this member owns it and has
    drained its work up to a position at the end (the end may sit past the last record: a
    transaction marker)."""
    out = []
    for p, end in sorted(ends.items()):
        if stored.get(p, -1) >= end or begins.get(p, 0) >= end or positions.get(p, -1) >= end:
            continue
        out.append(p)
    return out


class GroupRuntime:
    def __init__(self, config: RuntimeConfig, consumer: RecordConsumer, handler: PartitionHandler,
                 on_gap: Callable[[Gap], None] | None = None) -> None:
        self.config = config
        self._consumer = consumer
        self._handler = handler
        self._on_gap = on_gap
        self._changes = _MembershipChanges()
        self._owned: set[int] = set()
        self._stopping = False
        self._waiting_logged = False
        self._unreachable_since: float | None = None

    def stop(self) -> None:
        self._stopping = True

    @property
    def stopping(self) -> bool:
        """Stop was asked (a signal, :meth:`stop`): waits for a store that is away should end."""
        return self._stopping

    def run(self, until_idle_s: float | None = None) -> None:
        """Poll and hand records to the handler until stopped (SIGTERM, Ctrl-C, :meth:`stop`) or, with
        ``until_idle_s``, until no record has arrived for that long and the whole topic is
        processed; then drain."""
        self._install_signal_handler()
        self._consumer.subscribe(self.config.topic, on_assign=self._changes.assigned,
                                 on_revoke=self._changes.revoked)
        last_arrival = last_done_check = time.monotonic()
        while not self._stopping:
            batches = self._while_reachable(self._poll, default={})
            self._apply_membership_changes()
            now = time.monotonic()
            if batches:
                last_arrival = now
            for partition, records in batches.items():
                if partition in self._owned:  # a partition revoked during the poll is not ours
                    self._handler.handle(partition, records)
            self._while_reachable(lambda: self._handler.tick(now, bool(batches)))
            if (until_idle_s is not None and now - last_arrival >= until_idle_s
                    and now - last_done_check >= self.config.done_check_s):
                last_done_check = now
                if self._while_reachable(self._topic_done, default=False):
                    break
        self._handler.drain()

    def _poll(self) -> dict[int, list[Record]]:
        batches = self._consumer.poll(self.config.poll_timeout_s, self.config.max_poll_records)
        if self._unreachable_since is not None:
            logger.info("%s: Kafka reachable again after %.1fs", self.config.layer,
                        time.monotonic() - self._unreachable_since)
            self._unreachable_since = None
        return batches

    def _while_reachable(self, call, default=None):
        """Run ``call``; when Kafka is unreachable for a moment (a broker restarting, a leader
        moving), log it once per outage, back off and let the loop try again."""
        try:
            return call()
        except KafkaUnavailable as e:
            if self._unreachable_since is None:
                self._unreachable_since = time.monotonic()
                logger.warning("%s: Kafka unreachable (%s); retrying", self.config.layer, e)
            time.sleep(UNREACHABLE_BACKOFF_S)
            return default

    def _install_signal_handler(self) -> None:
        """SIGTERM and Ctrl-C end the loop the same way: stop polling, drain, return."""
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        except ValueError:  # not the main thread (tests and the demo drive layers from one)
            pass

    def _on_signal(self, signum, frame) -> None:
        if self._stopping:  # a second one: give up draining
            raise KeyboardInterrupt
        logger.info("%s: signal %d, stopping after draining what it holds", self.config.layer, signum)
        self.stop()

    def _apply_membership_changes(self) -> None:
        """What the callbacks reported during the last poll, settled in one go: partitions that
        were revoked at any point are revoked (even if given back since: another member may have
        processed them meanwhile), then partitions owned at the end are started. A partition
        assigned and revoked again within the poll is never started."""
        owned_after: dict[int, bool] = {}
        revoked: set[int] = set()
        for kind, partitions in self._changes.take():
            for p in partitions:
                owned_after[p] = kind == "assigned"
                if kind == "revoked":
                    revoked.add(p)
        gone = sorted(p for p in self._owned if p in revoked)
        if gone:
            self._owned.difference_update(gone)
            self._handler.revoked(gone)
            logger.info("%s: %s partitions %s revoked", self.config.layer, self.config.topic, gone)
        new = sorted(p for p, owned in owned_after.items() if owned and p not in self._owned)
        if new:
            starts = self._handler.assigned(new)
            self._check_retention(starts)
            for p in new:
                self._consumer.start(p, starts.get(p))
            self._owned.update(new)
            logger.info("%s: %s partitions %s assigned, starting at %s", self.config.layer, self.config.topic,
                        new, {p: ("beginning" if starts.get(p) is None else starts[p]) for p in new})

    def restart(self, partitions: list[int]) -> None:
        """The handler gave up work it had not made durable for these partitions (a write its
        fence refused): forget them and start them again where the handler's store says, as a
        new assignment would. If this member has in fact lost them, the next poll revokes them."""
        owned = sorted(p for p in partitions if p in self._owned)
        if not owned:
            return
        self._handler.revoked(owned)
        starts = self._handler.assigned(owned)
        self._check_retention(starts)
        for p in owned:
            self._consumer.start(p, starts.get(p))
        logger.info("%s: %s partitions %s started again at %s", self.config.layer, self.config.topic, owned,
                    {p: ("beginning" if starts.get(p) is None else starts[p]) for p in owned})

    def _check_retention(self, starts: Mapping[int, int | None]) -> None:
        """A resume offset below the log start means records were deleted unprocessed."""
        resuming = sorted(p for p, offset in starts.items() if offset is not None)
        if not resuming:
            return
        begins = self._consumer.beginning_offsets(resuming)
        for p in resuming:
            if begins.get(p, 0) <= starts[p]:
                continue
            gap = Gap(self.config.topic, p, starts[p], begins[p] - 1)
            if not self.config.accept_gap:
                raise RetentionGap(f"{self.config.layer}: offsets {gap.first}..{gap.last} of {gap.topic}-{p} "
                                   f"({gap.records} records) were deleted by retention before this layer processed "
                                   f"them; nothing was skipped. Start it with --accept-gap to go on from offset "
                                   f"{begins[p]}: the loss is then logged, counted and written to the audit ledger")
            logger.warning("%s: accepting a retention gap: offsets %d..%d of %s-%d (%d records) were deleted "
                           "unprocessed; going on from offset %d", self.config.layer, gap.first, gap.last, gap.topic,
                           p, gap.records, begins[p], extra=where(gap.topic, p, gap.first))
            if self._on_gap is not None:
                self._on_gap(gap)

    def _topic_done(self) -> bool:
        """Every partition of the topic processed to its end offset, by the layer's own store."""
        self._handler.drain()
        partitions = self._consumer.partitions()
        ends = self._consumer.end_offsets(partitions)
        missing = [p for p in partitions if p not in ends]
        if missing:  # a leader moving: not known to be finished
            logger.info("%s: no end offset for %s partitions %s yet", self.config.layer, self.config.topic, missing)
            return False
        begins = self._consumer.beginning_offsets(partitions)
        stored = self._handler.stored_next_offsets(partitions)
        positions = {p: self._consumer.position(p) for p in self._owned}
        behind = unfinished(ends, begins, stored, positions)
        if not behind:
            logger.info("%s: every partition of %s is processed to its end %s", self.config.layer,
                        self.config.topic, dict(ends))
            return True
        elsewhere = [p for p in behind if p not in self._owned]
        if elsewhere and not self._waiting_logged:
            self._waiting_logged = True
            logger.warning("%s: waiting for %s partitions %s: not assigned to this member and not "
                           "processed to their end (another member, or a dead one until its session "
                           "expires, holds them)", self.config.layer, self.config.topic, elsewhere)
        return False
