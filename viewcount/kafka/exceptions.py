"""Errors of the Kafka seam; driver errors are translated into these where they enter."""

from viewcount.errors import ViewcountError


class KafkaSeamError(ViewcountError):
    """Base class for Kafka failures."""


class KafkaUnavailable(KafkaSeamError):
    """No broker answered, or the answer was a retriable error: trying again later may work."""


class ProduceError(KafkaSeamError):
    """A record could not be delivered."""


class RecordTooLarge(ProduceError):
    """The record is larger than the producer or broker accepts."""


class TopicError(KafkaSeamError):
    """Creating or describing a topic failed."""
