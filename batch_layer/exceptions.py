"""Errors of the batch layer."""

from viewcount.errors import ViewcountError


class BatchError(ViewcountError):
    """Base class for batch-layer failures."""


class WatermarkError(BatchError):
    """The watermark asked for is not safe, or no watermark can be computed yet."""


class ChecksFailed(BatchError):
    """A data check failed: the version is kept for inspection but not published."""


class DatasetHole(BatchError):
    """A partition's stored offsets are not contiguous: publishing would silently count fewer views."""
