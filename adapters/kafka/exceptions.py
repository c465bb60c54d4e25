"""Errors of the Kafka seam; driver errors are translated into these where they enter."""

from viewcount.errors import ViewcountError


class KafkaSeamError(ViewcountError):
    """Base class for Kafka failures."""


class KafkaUnavailable(KafkaSeamError):
    """No broker answered, or the answer was a retriable error: trying again later may work."""


FENCED_HINT = ("another live member of the consumer group has this process's group instance id; give "
               "each member its own VIEWCOUNT_KAFKA_GROUP_INSTANCE_ID")


class NotOwner(KafkaSeamError):
    """The group coordinator refused a commit from this member: its generation is over (it was
    evicted, or a rebalance it has not yet seen is moving its partitions). It must publish
    nothing more for them."""


class ProduceError(KafkaSeamError):
    """A record could not be delivered."""


class RecordTooLarge(ProduceError):
    """The record is larger than the producer or broker accepts."""


class TopicError(KafkaSeamError):
    """Creating or describing a topic failed."""


class RetentionGap(KafkaSeamError):
    """Records a layer never processed were deleted by retention before it resumed: going on
    would skip them without a word."""
