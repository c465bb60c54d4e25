"""Errors of the batch layer."""

from viewcount.errors import ViewcountError


class BatchError(ViewcountError):
    """Base class for batch-layer failures."""


class WatermarkError(BatchError):
    """The watermark asked for is not safe, or no watermark can be computed yet."""
