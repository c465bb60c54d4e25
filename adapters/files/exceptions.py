"""Errors of the file stores; driver and OS errors are translated into these where they enter."""

from viewcount.errors import ViewcountError


class StoreError(ViewcountError):
    """Base class for file-store failures."""


class StoreUnavailable(StoreError):
    """The store did not answer (HDFS down, disk gone)."""


class AlreadyExists(StoreError):
    """An exclusive create or a commit found the target already there."""


class NotFound(StoreError):
    """The path does not exist."""


class KeyFileError(ViewcountError):
    """A key file is missing, unreadable or invalid; the message names the entry."""
