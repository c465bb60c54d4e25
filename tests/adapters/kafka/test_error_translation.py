"""Driver errors become the seam's: a broker away for a moment is KafkaUnavailable (the loop waits
it out), anything else a KafkaSeamError that stops the layer with its reason."""

from __future__ import annotations

import pytest

from adapters.kafka import confluent, kafka_python
from adapters.kafka.exceptions import KafkaUnavailable, RecordTooLarge


@pytest.mark.parametrize("code, expected", [
    ("_UNKNOWN_PARTITION", KafkaUnavailable),        # metadata while a broker restarts
    ("LEADER_NOT_AVAILABLE", KafkaUnavailable),
    ("NOT_LEADER_FOR_PARTITION", KafkaUnavailable),
    ("_TRANSPORT", KafkaUnavailable),
    ("_ALL_BROKERS_DOWN", KafkaUnavailable),
    ("NOT_COORDINATOR", KafkaUnavailable),             # a new group's coordinator, still moving
    ("_DESTROY_BROKER", KafkaUnavailable),             # a request to a cluster's broker that died
    ("MSG_SIZE_TOO_LARGE", RecordTooLarge),
    ("TOPIC_AUTHORIZATION_FAILED", None),
    ("_INVALID_ARG", None),
])
def test_confluent_errors(code, expected):
    from confluent_kafka import KafkaError, KafkaException

    translated = confluent._translate(KafkaException(KafkaError(getattr(KafkaError, code))), "poll t")
    if expected is None:
        assert not isinstance(translated, KafkaUnavailable)
    else:
        assert isinstance(translated, expected)
    assert str(translated).startswith("poll t")


def test_a_fenced_static_member_is_told_what_to_change():
    from confluent_kafka import KafkaError, KafkaException
    from kafka.errors import FencedInstanceIdError

    as_librdkafka_reports_it = KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced by other "
                                                             "consumer with same group.instance.id")
    for translated in (confluent._translate(KafkaException(KafkaError(KafkaError.FENCED_INSTANCE_ID)), "poll t"),
                       confluent._translate(KafkaException(as_librdkafka_reports_it), "poll t"),
                       kafka_python._translate(FencedInstanceIdError("x"), "poll t")):
        assert not isinstance(translated, KafkaUnavailable)
        assert "VIEWCOUNT_KAFKA_GROUP_INSTANCE_ID" in str(translated)


@pytest.mark.parametrize("name, expected", [
    ("KafkaConnectionError", KafkaUnavailable),       # ECONNREFUSED while a broker restarts
    ("NodeNotReadyError", KafkaUnavailable),
    ("NotLeaderForPartitionError", KafkaUnavailable),
    ("MessageSizeTooLargeError", RecordTooLarge),
    ("TopicAuthorizationFailedError", None),
])
def test_kafka_python_errors(name, expected):
    from kafka import errors

    translated = kafka_python._translate(getattr(errors, name)("x"), "poll t")
    if expected is None:
        assert not isinstance(translated, KafkaUnavailable)
    else:
        assert isinstance(translated, expected)
