"""kafka-python's close commits the offsets last asked of commit() even when the group is
rebalancing: kafka-python refuses a commit until this member has rejoined, and only a poll rejoins.
The driver object is replaced by one that rebalances when the test says: finishing the rebalance
and committing only what is still owned is this adapter's own logic."""

from __future__ import annotations

import pytest
from kafka import TopicPartition
from kafka.errors import RebalanceInProgressError

from adapters.kafka.kafka_python import KafkaPythonConfig, KafkaPythonConsumer


class RebalancingDriver:
    """A kafka-python consumer whose group is rebalancing until it polls ``polls_to_rejoin`` times;
    afterwards it owns ``owned_after``."""

    def __init__(self, **_config) -> None:
        self.owned = {0, 1}
        self.owned_after = {0, 1}
        self.polls_to_rejoin = 1
        self.polls = 0
        self.committed: list[dict[int, int]] = []
        self.closed = False

    def subscription(self):
        return {"views"}

    def assignment(self):
        return {TopicPartition("views", p) for p in self.owned}

    def commit_async(self, offsets, callback):
        callback(offsets, RebalanceInProgressError("rebalancing"))

    def commit(self, offsets, timeout_ms):
        if self.polls < self.polls_to_rejoin:
            raise RebalanceInProgressError("rebalancing")
        self.committed.append({tp.partition: meta.offset for tp, meta in offsets.items()})

    def poll(self, timeout_ms):
        self.polls += 1
        if self.polls == self.polls_to_rejoin:
            self.owned = self.owned_after
        return {}

    def close(self, autocommit):
        assert autocommit is False
        self.closed = True


@pytest.fixture
def make_consumer(monkeypatch):
    monkeypatch.setattr("kafka.KafkaConsumer", RebalancingDriver)

    def make(timeout_ms: int = 30_000) -> tuple[KafkaPythonConsumer, RebalancingDriver]:
        consumer = KafkaPythonConsumer(KafkaPythonConfig(bootstrap_servers="127.0.0.1:1", group_id="g",
                                                         request_timeout_ms=timeout_ms))
        consumer._topic = "views"
        return consumer, consumer._consumer

    return make


def test_close_finishes_a_rebalance_and_commits_what_the_member_still_owns(make_consumer):
    consumer, driver = make_consumer()
    driver.owned_after = {0}
    consumer.commit({0: 3, 1: 4})      # refused: the group is rebalancing
    consumer.close()
    # Partition 1 moved in the rebalance: its old offset would move the new owner back.
    assert driver.committed == [{0: 3}]
    assert driver.polls == 1 and driver.closed


def test_close_commits_at_once_when_the_group_is_stable(make_consumer):
    consumer, driver = make_consumer()
    driver.polls_to_rejoin = 0
    consumer.commit({0: 3, 1: 4})
    consumer.close()
    assert driver.committed == [{0: 3, 1: 4}]
    assert driver.polls == 0 and driver.closed


def test_a_rebalance_that_does_not_finish_is_given_up_at_the_request_timeout(make_consumer):
    consumer, driver = make_consumer(timeout_ms=300)
    driver.polls_to_rejoin = 10**9
    consumer.commit({0: 3, 1: 4})
    consumer.close()
    assert driver.committed == [] and driver.polls >= 1 and driver.closed


def test_a_rebalance_finished_by_close_is_not_reported_to_the_application(make_consumer):
    consumer, driver = make_consumer()
    told = []
    consumer._closing.set()
    # The listener kafka-python would call is built at subscribe; a closing member's is silent.
    driver.subscribe = lambda topics, listener: told.append(listener)
    driver.pause = lambda *tps: None
    driver.partitions_for_topic = lambda topic: {0, 1}
    consumer.subscribe("views", on_assign=lambda ps: told.append(("assigned", ps)),
                       on_revoke=lambda ps: told.append(("revoked", ps)))
    listener = told.pop()
    listener.on_partitions_assigned({TopicPartition("views", 0)})
    listener.on_partitions_revoked({TopicPartition("views", 1)})
    assert told == []


def test_a_consumer_assigned_by_hand_gives_up_a_refused_commit_at_once(make_consumer):
    consumer, driver = make_consumer()
    driver.subscription = lambda: set()
    consumer.commit({0: 3})
    consumer.close()
    assert driver.committed == [] and driver.polls == 0 and driver.closed
