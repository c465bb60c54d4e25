"""The confluent driver's fence (a synchronous commit) waits at most the request timeout: librdkafka
itself waits without end, and a sink waiting on a commit that a pending rebalance holds back would
never poll again to let that rebalance finish. The driver object is replaced by one whose commit
answers when the test says: the waiting is this adapter's own logic."""

from __future__ import annotations

import threading

import pytest

from adapters.kafka.confluent import ConfluentConfig, ConfluentConsumer
from adapters.kafka.exceptions import KafkaUnavailable, NotOwner


class HeldCommits:
    """librdkafka's commit, held until released; refused with ``error`` if set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.error: BaseException | None = None
        self.calls = 0

    def commit(self, offsets, asynchronous):
        assert asynchronous is False
        self.calls += 1
        self.release.wait(10)
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        pass


@pytest.fixture
def make_consumer():
    made = []

    def make(timeout_ms: int = 300) -> tuple[ConfluentConsumer, HeldCommits]:
        consumer = ConfluentConsumer(ConfluentConfig(bootstrap_servers="127.0.0.1:1", group_id="g",
                                                     request_timeout_ms=timeout_ms))
        made.append(consumer._consumer)
        consumer._topic, consumer._consumer = "views", HeldCommits()
        return consumer, consumer._consumer

    yield make
    for real in made:
        real.close()


def test_a_commit_the_coordinator_does_not_answer_is_given_up_at_the_deadline(make_consumer):
    consumer, driver = make_consumer()
    with pytest.raises(KafkaUnavailable, match="did not answer in 0.3s"):
        consumer.commit_owned({0: 10})
    # Still held: the next fence is refused at once rather than stacking a second wait.
    with pytest.raises(KafkaUnavailable, match="an earlier ownership check is still waiting"):
        consumer.commit_owned({0: 20})
    assert driver.calls == 1
    driver.release.set()
    consumer._fence_waiting.join(5)
    consumer.commit_owned({0: 30})          # answered: the fence works again
    assert driver.calls == 2


def test_a_refusal_within_the_deadline_is_translated_as_before(make_consumer):
    from confluent_kafka import KafkaError, KafkaException

    consumer, driver = make_consumer(timeout_ms=5_000)
    driver.release.set()
    driver.error = KafkaException(KafkaError(KafkaError.UNKNOWN_MEMBER_ID))
    with pytest.raises(NotOwner, match="refused it"):
        consumer.commit_owned({0: 10})
