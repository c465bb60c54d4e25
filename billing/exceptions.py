"""Errors of billing. Every one of them stops a run before anything is written."""

from viewcount.errors import ViewcountError


class BillingError(ViewcountError):
    """Base class for billing failures."""


class PeriodError(BillingError):
    """The period is malformed, or not closed yet."""


class RateCardError(BillingError):
    """The rate card is missing, unreadable or invalid; the message names the key."""


class BillingChecksFailed(BillingError):
    """A data check over the month's payouts failed; nothing was written."""


class StaleBatchVersion(BillingError):
    """The batch version read is not the latest one the ledger records as published."""
