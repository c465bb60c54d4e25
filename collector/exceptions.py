"""Errors of the collector."""

from viewcount.errors import ViewcountError


class CollectorError(ViewcountError):
    """Base class for collector failures."""


class CollectorConfigError(CollectorError):
    """The write keys file or another collector setting cannot be used."""


class BadBody(CollectorError):
    """A request body the collector does not take, with the HTTP status that says why."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
