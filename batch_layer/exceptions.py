"""Errors of the batch layer."""

from viewcount.errors import ViewcountError


class BatchError(ViewcountError):
    """Base class for batch-layer failures."""


class WatermarkError(BatchError):
    """The watermark asked for is not safe, or no watermark can be computed yet."""


class ChecksFailed(BatchError):
    """A data check failed: the version is kept for inspection but not published."""


class PublishConflict(BatchError):
    """Another version was published after this one was computed: publishing it would roll that
    one back. Nothing was published; compute it again over what is published now."""

    def __init__(self, message: str, current: str | None) -> None:
        super().__init__(message)
        self.current = current


class DatasetHole(BatchError):
    """A partition's stored offsets are not contiguous: publishing would silently count fewer views."""
