"""Errors of the serving layer, under the project's root error."""

from __future__ import annotations

from viewcount.errors import ViewcountError


class ServingConfigError(ViewcountError):
    """The API keys file or another serving setting is unusable (found at start)."""


class ApiNotStarted(ViewcountError):
    """The API server did not come up (port taken, app failed at start)."""
