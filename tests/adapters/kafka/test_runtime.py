"""The consumer runtime's rules, on an in-memory consumer: callbacks only record, the poll loop
settles membership before handling records, and "done" is read from the layer's store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import pytest

from adapters.kafka.exceptions import KafkaUnavailable
from adapters.kafka.runtime import GroupRuntime, RuntimeConfig, unfinished
from adapters.kafka.seam import Record, RecordConsumer


class ScriptedConsumer(RecordConsumer):
    """A group consumer whose rebalances are scripted: ``script[i]`` runs inside the i-th poll,
    the way a real client runs its callbacks during poll."""

    def __init__(self, logs: dict[int, int], script: list[Callable[[ScriptedConsumer], None]]) -> None:
        self.logs = logs                        # partition → end offset (records 0..end-1)
        self.script = list(script)
        self.positions: dict[int, int] = {}     # started partitions only
        self.assigned: set[int] = set()
        self.starts: list[tuple[int, int | None]] = []
        self.polls = 0

    def subscribe(self, topic, on_assign=None, on_revoke=None) -> None:
        self.on_assign, self.on_revoke = on_assign, on_revoke

    def give(self, *partitions: int) -> None:
        self.assigned.update(partitions)
        self.on_assign(sorted(partitions))

    def take(self, *partitions: int) -> None:
        self.assigned.difference_update(partitions)
        for p in partitions:
            self.positions.pop(p, None)
        self.on_revoke(sorted(partitions))

    def poll(self, timeout_s, max_records=None) -> dict[int, list[Record]]:
        self.polls += 1
        if self.script and self.script[0] == "unreachable":
            self.script.pop(0)
            raise KafkaUnavailable("poll t: KafkaConnectionError: 111 ECONNREFUSED")
        # Records are fetched before the callbacks of this poll run, as a real client may.
        out = {}
        for p, pos in self.positions.items():
            if pos < self.logs[p]:
                out[p] = [Record("t", p, o, 1000 + o, None, b"x") for o in range(pos, self.logs[p])]
                self.positions[p] = self.logs[p]
        if self.script:
            self.script.pop(0)(self)
        return out

    def start(self, partition: int, offset: int | None) -> None:
        assert partition in self.assigned, f"started {partition}, which is not assigned"
        self.starts.append((partition, offset))
        self.positions[partition] = offset or 0

    def partitions(self) -> list[int]:
        return sorted(self.logs)

    def end_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        return {p: self.logs[p] for p in partitions}

    def beginning_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        return {p: 0 for p in partitions}

    def position(self, partition: int) -> int:
        return self.positions[partition]

    def assign(self, topic, partitions) -> None: raise NotImplementedError
    def seek(self, partition, offset) -> None: raise NotImplementedError
    def seek_to_beginning(self, partition) -> None: raise NotImplementedError
    def offsets_for_time(self, partitions, timestamp_ms): raise NotImplementedError
    def commit(self, offsets) -> None: pass
    def commit_owned(self, offsets) -> None: pass
    def pause(self, partition) -> None: pass
    def close(self) -> None: pass


class RecordingHandler:
    """A layer whose store is a dict: ``stored[p]`` is the next offset it has made durable."""

    def __init__(self, stored: dict[int, int] | None = None) -> None:
        self.stored = dict(stored or {})
        self.calls: list[tuple] = []
        self.pending: dict[int, int] = {}

    def assigned(self, partitions):
        self.calls.append(("assigned", partitions))
        return {p: self.stored.get(p) for p in partitions}

    def revoked(self, partitions):
        self.calls.append(("revoked", partitions))
        for p in partitions:
            self.pending.pop(p, None)   # dropped: the new owner reads it again

    def handle(self, partition, records):
        self.calls.append(("handle", partition, records[0].offset, records[-1].offset))
        self.pending[partition] = records[-1].offset + 1

    def tick(self, now, received):
        pass

    def drain(self):
        self.stored.update(self.pending)
        self.pending.clear()

    def stored_next_offsets(self, partitions):
        return {p: self.stored[p] for p in partitions if p in self.stored}


def runtime(consumer, handler) -> GroupRuntime:
    return GroupRuntime(RuntimeConfig("t", "test layer", poll_timeout_s=0, done_check_s=0), consumer, handler)


def test_a_partition_starts_after_the_poll_at_the_offset_the_store_holds():
    consumer = ScriptedConsumer({0: 10, 1: 5}, [lambda c: c.give(0, 1)])
    handler = RecordingHandler(stored={0: 7})
    runtime(consumer, handler).run(until_idle_s=0)
    assert consumer.starts == [(0, 7), (1, None)]
    assert handler.calls[0] == ("assigned", [0, 1])
    assert ("handle", 0, 7, 9) in handler.calls and ("handle", 1, 0, 4) in handler.calls
    assert handler.stored == {0: 10, 1: 5}


def test_records_of_a_partition_revoked_during_the_poll_are_not_handled():
    consumer = ScriptedConsumer({0: 4, 1: 4}, [lambda c: c.give(0, 1), lambda c: None])
    handler = RecordingHandler()
    rt = runtime(consumer, handler)
    consumer.script += [lambda c: c.logs.update({0: 8}), lambda c: c.take(0), lambda c: rt.stop()]
    rt.run()
    # The poll that revoked 0 had fetched its offsets 4..7: they belong to the new owner.
    assert not any(call[:2] == ("handle", 0) and call[2] >= 4 for call in handler.calls)
    revoke_at = handler.calls.index(("revoked", [0]))
    assert all(call[0] != "handle" or call[1] != 0 for call in handler.calls[revoke_at:])


def test_a_partition_assigned_and_revoked_within_one_poll_is_never_started():
    consumer = ScriptedConsumer({0: 3}, [lambda c: (c.give(0), c.take(0)), lambda c: c.give(0)])
    handler = RecordingHandler()
    runtime(consumer, handler).run(until_idle_s=0)
    assert consumer.starts == [(0, None)]
    assert handler.calls[0] == ("assigned", [0])


def test_revoked_and_given_back_within_one_poll_reads_the_store_again():
    consumer = ScriptedConsumer({0: 3}, [lambda c: c.give(0), lambda c: None])
    handler = RecordingHandler()
    rt = runtime(consumer, handler)

    def moved_and_back(c):
        handler.stored[0] = 3          # another member processed it meanwhile
        c.take(0)
        c.give(0)

    consumer.script += [moved_and_back, lambda c: rt.stop()]
    rt.run()
    assert consumer.starts == [(0, None), (0, 3)]
    assert [c[0] for c in handler.calls if c[0] != "handle"] == ["assigned", "revoked", "assigned"]


def test_a_restarted_partition_drops_its_pending_work_and_starts_again_where_the_store_is():
    consumer = ScriptedConsumer({0: 6}, [lambda c: c.give(0)])
    handler = RecordingHandler(stored={0: 2})
    rt = runtime(consumer, handler)
    handled = handler.handle

    def fenced_once(partition, records):   # a write the fence refused, as the raw sink's
        handled(partition, records)
        if consumer.starts == [(0, 2)]:
            rt.restart([partition])
    handler.handle = fenced_once
    rt.run(until_idle_s=0)
    assert consumer.starts == [(0, 2), (0, 2)]
    assert handler.calls[:4] == [("assigned", [0]), ("handle", 0, 2, 5), ("revoked", [0]), ("assigned", [0])]
    assert handler.stored == {0: 6}


def test_restarting_a_partition_this_member_does_not_own_does_nothing():
    consumer = ScriptedConsumer({0: 3}, [])
    handler = RecordingHandler()
    runtime(consumer, handler).restart([0])
    assert consumer.starts == [] and handler.calls == []


def test_until_idle_waits_for_partitions_held_elsewhere_and_says_so_once(caplog):
    """Partition 1 belongs to another member: done only once the store has it at its end."""
    handler = RecordingHandler()
    waits = []

    def other_member_finishes(c):
        waits.append(c.polls)
        if len(waits) == 30:
            handler.stored[1] = 6

    consumer = ScriptedConsumer({0: 4, 1: 6}, [lambda c: c.give(0)] + [other_member_finishes] * 100)
    rt = runtime(consumer, handler)
    with caplog.at_level(logging.INFO, logger="adapters.kafka.runtime"):
        rt.run(until_idle_s=0)
    assert len(waits) >= 30 and handler.stored == {0: 4, 1: 6}
    waiting = [r for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(waiting) == 1 and "partitions [1]" in waiting[0].getMessage()


def test_a_broker_away_for_a_moment_is_waited_out_and_said_once(caplog):
    consumer = ScriptedConsumer({0: 5}, [lambda c: c.give(0)] + ["unreachable"] * 3 + [lambda c: None])
    handler = RecordingHandler()
    with caplog.at_level(logging.INFO, logger="adapters.kafka.runtime"):
        runtime(consumer, handler).run(until_idle_s=0)
    assert handler.stored == {0: 5}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Kafka unreachable" in m for m in messages) == 1
    assert sum("reachable again" in m for m in messages) == 1


@pytest.mark.parametrize("ends, begins, stored, positions, expected", [
    ({0: 10, 1: 5}, {}, {0: 10, 1: 5}, {}, []),            # the store has everything
    ({0: 10, 1: 5}, {}, {0: 10}, {}, [1]),                 # nothing stored for 1
    ({0: 10}, {0: 10}, {}, {}, []),                        # an empty (or expired) log
    ({0: 10}, {}, {0: 9}, {0: 10}, []),                    # owned, drained, past a marker
    ({0: 10}, {}, {0: 9}, {}, [0]),                        # held elsewhere, one short
])
def test_unfinished_partitions(ends, begins, stored, positions, expected):
    assert unfinished(ends, begins, stored, positions) == expected
