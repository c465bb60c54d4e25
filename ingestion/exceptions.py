"""Errors of the raw sink and re-ingest."""

from viewcount.errors import ViewcountError


class IngestionError(ViewcountError):
    """Base class for raw-sink failures."""


class DeadLetterError(IngestionError):
    """A dead letter could not be delivered: the range is not committed, and is read again."""


class ReplayError(IngestionError):
    """A re-ingest cannot be done as asked (range out of Kafka's retention, bad bounds)."""


class CompactionError(IngestionError):
    """Files cannot be compacted as they are (an existing merged file that disagrees, different
    schemas): nothing is deleted."""
