"""Errors of the video catalog."""

from viewcount.errors import ViewcountError


class CatalogError(ViewcountError):
    """The catalog could not be read or written."""


class AssignmentRefused(CatalogError):
    """An assignment the catalog does not take (bad id, hour not on the hour, a billed month)."""
