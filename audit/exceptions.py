"""Errors of the audit ledger."""

from viewcount.errors import ViewcountError


class AuditError(ViewcountError):
    """Base class for audit-ledger failures."""


class LedgerCorrupt(AuditError):
    """Verification found a record that does not hold; the message names the first one."""


class HeadMoved(AuditError):
    """Another appender took the sequence number this record was built for."""
