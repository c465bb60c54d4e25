"""Errors of the Redis adapter, under the project's root error."""

from __future__ import annotations

from viewcount.errors import ViewcountError


class ServingStoreError(ViewcountError):
    """Redis failed or did not answer."""


class UnsafeStore(ServingStoreError):
    """Redis is configured so that it may drop keys on its own (an eviction policy)."""
