"""Errors of the speed layer."""

from viewcount.errors import ViewcountError


class SpeedLayerError(ViewcountError):
    """Base class for speed-layer failures."""


class ServingStoreUnavailable(SpeedLayerError):
    """Redis did not answer."""
